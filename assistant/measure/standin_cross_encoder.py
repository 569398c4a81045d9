"""A stand-in cross-encoder built from the installed embedding model, for the tests and the bench.

Takes a folder; gives a cross-encoder there that `sentence_transformers.CrossEncoder(folder)` loads
offline. No cross-encoder ships its weights inside an installable package (STACK.md), so the tests of
the reranker stage and `mcdewey bench` build one: the packaged all-MiniLM-L6-v2 BERT weights with a
fixed single-output classification head (seeded, the same on every machine), saved with the model's
tokenizer. It costs what a MiniLM-L6 cross-encoder costs (the size of the common ms-marco rerankers),
but its order means nothing: it measures a reranker's cost and checks that the stage applies a
cross-encoder's own scores, never quality.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from indexing.embedding_model import model_dir

SEED = 25
# The head's weights are N(0, HEAD_SCALE²): the pooled vector's 384 values lie in (-1, 1), so the logits
# stay within a few units and the sigmoid scores spread over (0, 1) rather than crowding at 0 or 1.
HEAD_SCALE = 0.25
NAME = "stand-in cross-encoder (all-MiniLM-L6-v2 weights, seeded head)"


def build_standin_cross_encoder(folder: Path) -> Path:
    """The stand-in at `folder`, built there unless it is already (written aside, then moved in whole)."""
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel

    base = BertModel.from_pretrained(str(model_dir()))
    config = BertConfig.from_pretrained(str(model_dir()), num_labels=1,
                                        architectures=["BertForSequenceClassification"])
    model = BertForSequenceClassification(config)
    model.bert.load_state_dict(base.state_dict())
    generator = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.randn(model.classifier.weight.shape, generator=generator) * HEAD_SCALE)
        model.classifier.bias.zero_()
    folder.parent.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=".standin-", dir=folder.parent))
    try:
        model.save_pretrained(aside)
        AutoTokenizer.from_pretrained(str(model_dir())).save_pretrained(aside)
        os.replace(aside, folder)
    except OSError:
        if not (folder / "config.json").is_file():  # not another process that built it first
            raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    return folder
