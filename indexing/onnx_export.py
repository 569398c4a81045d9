"""The embedding model exported to ONNX once per machine, and where that export is kept.

Takes a backend (``onnx`` or ``onnx-int8``) and an optional cache folder; gives the path of the
exported graph (`onnx_model_path`), exporting it first when it is missing. BERT, mean pooling and L2
normalisation go into one graph, which ONNX Runtime's BERT fusions (attention, layer norm, GELU) then
speed up; ``onnx-int8`` is that graph with int8 dynamic quantisation of its MatMul weights.

sentence-transformers' own ``backend="onnx"`` needs `optimum-onnx`, whose only release requires
transformers < 4.58 while sentence-transformers 6 needs transformers ≥ 5; so the export is done here,
with `torch.onnx` (the TorchScript exporter) and `onnxruntime.transformers`' optimiser.
The exported files live in a cache folder (`Embedder(model_cache=...)`, McDewey's `MCDEWEY_MODEL_CACHE`;
default: inside the virtual environment, else `~/.cache/mcdewey/models`), keyed by
the weights' hash, written atomically under a file lock (a server and an ingest may start together),
and checked against torch on a few sentences before first use.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from indexing.embedder import Embedder
from indexing.embedding_model import MODEL_NAME, hash_file_ends, model_dir
from indexing.locks import file_lock
from indexing.onnx_encoder import OnnxEncoder

INT8_OPS = ("MatMul", "Attention")
INT8_WEIGHT_TYPE = "QInt8"
INT8_PER_CHANNEL = True
EXPORT_VERSION = "1"  # bump when the exported graph changes
MIN_EXPORT_COSINE = {"onnx": 0.9999, "onnx-int8": 0.97}  # self-check of a fresh export against torch

log = logging.getLogger("mcdewey.embedder")

_CHECK_SENTENCES = [
    "How do I configure logical replication with a row filter?",
    "The routing table is declared inside the channel block of each protocol.",
    "max_wal_senders sets how many standby servers may stream at once (default 10).",
    "Kerberos tickets expire; renew them with kinit -R before the renewable lifetime ends.",
]


def cache_dir(model_cache: Path | None = None) -> Path:
    """Where exported ONNX models are kept: `model_cache` when given (MCDEWEY_MODEL_CACHE), else inside
    the virtual environment (one export per install, whatever
    HOME is: tests and services run with other HOMEs), else the user's cache folder (XDG_CACHE_HOME,
    the platform's convention, like HOME). Never inside the model package itself."""
    if model_cache:
        return Path(model_cache)
    if sys.prefix != sys.base_prefix:
        venv = Path(sys.prefix) / "share" / "mcdewey" / "models"
        with contextlib.suppress(OSError):
            venv.mkdir(parents=True, exist_ok=True)
            if os.access(venv, os.W_OK):
                return venv
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "mcdewey" / "models"


def _weights_key(folder: Path) -> str:
    """A short hash of the weights and config, so a new model package gets a new export."""
    h = hashlib.blake2b(digest_size=8)
    h.update(EXPORT_VERSION.encode())
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        if (folder / name).is_file():
            hash_file_ends(h, folder / name, name)
    return h.hexdigest()


def _export_fp32(folder: Path, target: Path) -> None:
    """BERT + mean pooling + L2 normalisation → one ONNX graph, then ORT's BERT fusions."""
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    token_type_ids: torch.Tensor) -> torch.Tensor:
            out = self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
            hidden = out[0]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            summed = (hidden * mask).sum(dim=1)
            mean = summed / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    bert = AutoModel.from_pretrained(str(folder), attn_implementation="eager")
    bert.eval()
    model = Pooled(bert).eval()
    dummy = torch.ones((2, 16), dtype=torch.long)
    raw = target.with_name("raw.onnx")
    with torch.no_grad():
        torch.onnx.export(
            model, (dummy, torch.ones_like(dummy), torch.zeros_like(dummy)), str(raw),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
            dynamic_axes={n: {0: "batch", 1: "sequence"} for n in ("input_ids", "attention_mask", "token_type_ids")}
            | {"embedding": {0: "batch"}},
            opset_version=17, do_constant_folding=True, dynamo=False,
        )
    try:
        from onnxruntime.transformers.optimizer import optimize_model

        config = json.loads((folder / "config.json").read_text())
        optimized = optimize_model(
            str(raw), model_type="bert", num_heads=int(config["num_attention_heads"]),
            hidden_size=int(config["hidden_size"]), opt_level=1,
        )
        optimized.save_model_to_file(str(target))
        raw.unlink()
    except Exception as exc:  # the fusions are a speed-up, never a requirement
        log.warning("ONNX Runtime's BERT optimiser failed (%s); using the plain export", exc)
        raw.rename(target)


def _quantize_int8(source: Path, target: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(
        str(source), str(target), weight_type=QuantType[INT8_WEIGHT_TYPE], per_channel=INT8_PER_CHANNEL,
        op_types_to_quantize=list(INT8_OPS), extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )


_PATHS: dict[tuple[str, Path | None], Path] = {}


def onnx_model_path(backend: str, model_cache: Path | None = None) -> Path:
    """The exported model for `backend`, exporting it (once, locked, atomically) when missing."""
    known = _PATHS.get((backend, model_cache))
    if known is not None and known.is_file():
        return known
    _PATHS[(backend, model_cache)] = path = _onnx_model_path(backend, model_cache)
    return path


def is_exported(backend: str, model_cache: Path | None = None) -> bool:
    """Whether `backend`'s graph is already in the cache (else the first use exports it: ~20 s)."""
    return _cached_file(backend, model_cache).is_file()


def _cached_file(backend: str, model_cache: Path | None) -> Path:
    home = cache_dir(model_cache) / f"{MODEL_NAME}-{_weights_key(model_dir())}"
    return home / {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}[backend]


@contextlib.contextmanager
def _warnings_to_debug_log() -> Iterator[None]:
    """The exporter's warnings go to the debug log, not the user's terminal. Both it gives for this
    model are about the trace and do not apply: transformers' `TracerWarning` is a shape test in its
    masking code that is the same for every input of an encoder (the mask is as long as the text),
    and torch's note that advanced indexing is wrong for negative indices concerns indices that are
    aranges here. `_check_export` compares the graph with torch before it is used."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    for w in caught:
        log.debug("ONNX export: %s: %s", w.category.__name__, w.message)


def _onnx_model_path(backend: str, model_cache: Path | None) -> Path:
    folder = model_dir()
    path = _cached_file(backend, model_cache)
    home, name = path.parent, path.name
    if path.is_file():
        return path
    # int8 is made from the fp32 graph, exported first: under the lock below, whose second `flock` in
    # this process would wait for the first forever.
    source = onnx_model_path("onnx", model_cache) if backend == "onnx-int8" else None
    with file_lock(home.with_name(home.name + ".lock")), _warnings_to_debug_log():
        if path.is_file():
            return path
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home, prefix=".export-") as tmp:
            work = Path(tmp) / name
            if source is None:
                _export_fp32(folder, work)
            else:
                _quantize_int8(source, work)
            _check_export(work, backend)
            os.replace(work, path)
    return path


def _check_export(path: Path, backend: str) -> None:
    """Refuse an export whose vectors disagree with torch's (a broken exporter, a bad quantiser)."""
    ref = Embedder(backend="torch").encode(_CHECK_SENTENCES)
    got = OnnxEncoder(path, threads=0).encode(_CHECK_SENTENCES, batch_size=8)
    worst = float(np.min(np.sum(ref * got, axis=1)))
    if worst < MIN_EXPORT_COSINE[backend]:
        raise RuntimeError(
            f"the {backend} export disagrees with torch (cosine {worst:.4f}); "
            "set MCDEWEY_EMBED_BACKEND=torch"
        )
