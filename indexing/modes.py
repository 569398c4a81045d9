"""The search modes `Retriever.search` runs, and every surface offers.

A module of its own so that the CLI can list them in `mcdewey --help` without importing the
retriever (numpy, BM25, Chroma), which would double the time `--help` takes.
"""

MODES = ("hybrid", "dense", "keyword")
"""`hybrid`: dense and BM25 fused (the default); `dense`: the embedding model only; `keyword`: BM25 only."""
