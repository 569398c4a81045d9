"""A second embedding model built from the packaged one, for tests and the bench: no other model ships here.

`build_standin_embedder(folder)` writes a sentence-transformers folder: the packaged all-MiniLM-L6-v2
network and its mean pooling, then a fixed projection to STANDIN_DIMENSIONS numbers (seeded random
weights, no activation) and L2 normalisation, with query and document prompts in its config. Its
vectors are genuinely another model's (another dimension, another geometry, prompts that change them),
so switching a library to it exercises everything a real new model would; its quality is not the point
(a random projection keeps most of MiniLM's neighbourhoods, so searches still find things).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from indexing.embedding_model import model_dir

STANDIN_DIMENSIONS = 256
STANDIN_SEED = 2512
STANDIN_PROMPTS = {"query": "query: ", "document": "passage: "}


def build_standin_embedder(folder: Path, dimensions: int = STANDIN_DIMENSIONS) -> Path:
    """Write the stand-in model into `folder` (made whole in a temporary folder, then renamed)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense, Normalize, Pooling, Transformer

    if (folder / "modules.json").is_file():
        return folder
    transformer = Transformer(str(model_dir()), max_seq_length=256)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    generator = torch.Generator().manual_seed(STANDIN_SEED)
    dense = Dense(transformer.get_embedding_dimension(), dimensions, bias=False,
                         activation_function=torch.nn.Identity())
    with torch.no_grad():
        dense.linear.weight.copy_(torch.randn(dimensions, transformer.get_embedding_dimension(),
                                              generator=generator) / dimensions ** 0.5)
    model = SentenceTransformer(modules=[transformer, pooling, dense, Normalize()], device="cpu",
                                prompts=dict(STANDIN_PROMPTS))
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=".standin-") as tmp:
        work = Path(tmp) / "model"
        model.save(str(work))
        config = work / "config_sentence_transformers.json"
        data = json.loads(config.read_text())
        data["prompts"] = dict(STANDIN_PROMPTS)
        config.write_text(json.dumps(data, indent=2))
        if folder.exists():
            shutil.rmtree(folder)
        work.rename(folder)
    return folder
