"""Texts → unit vectors with an exported ONNX graph of the embedding model, on ONNX Runtime.

Takes the path of an exported graph (`indexing.onnx_export`, mean pooling and normalisation inside
it) and gives `encode(texts, batch_size)`: the same vectors as the model on PyTorch, faster on a CPU.
It tokenizes with the model's own fast tokenizer (truncated at 256 tokens, like the model) and pads
each batch only to its longest text.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from indexing.embedding_model import DIMENSIONS, MAX_SEQ_TOKENS, model_dir


class OnnxEncoder:
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

    def encode(self, texts: Sequence[str], batch_size: int, sort: bool = True,
               on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        """`on_batch(n)` hears of each batch of `n` texts encoded (progress inside a call)."""
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
            if on_batch is not None:
                on_batch(len(rows))
        return out
