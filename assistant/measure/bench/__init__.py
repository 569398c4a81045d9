"""`mcdewey bench`: how fast McDewey is, each figure beside the baseline measured in the same run.

Six sections, printed as one Markdown table (pasteable into the README) or as JSON (`--json`):

1. ingest     McDewey's whole ingest (parse, chunk, embed, Chroma, catalog, keyword index) of a set of
              files vs the raw `SentenceTransformer.encode` throughput over the same chunks.
2. encoders   encoder backends (PyTorch, ONNX Runtime, int8), threads and batch sizes on the same
              chunks: speed, cosine agreement with PyTorch's vectors, and hit@5 on a question set.
3. search     p50/p95 of `search_docs` over MCP (official client) and of `/api/search`, warm, on the
              index and on a synthetic 100,000-chunk copy, with embedded Chroma and a Chroma server;
              the serving process's RSS. Baseline: the same search called in-process.
4. reingest   an unchanged library ingested again, as a fraction of the full ingest.
5. answer     the embedded LLM: retrieval, first token, total, tokens/s (vs a retrieval-only answer).
6. concurrency 20 MCP clients searching at once vs one client alone.
7. scale      only with `--scale 10k,100k,300k,1M`, and then alone: the growth curve at each size (the
              index copied with jittered vectors): building it (catalog, Chroma, BM25 time and memory),
              search p50/p95 with and without a product filter in-process, over REST and over MCP, the
              filtered dense search against Chroma's own `where`, the server's RSS. `--scale-dir`
              keeps the built indexes for later runs.
8. rerank     only with `--rerank QUESTIONS`, and then alone: a cross-encoder stage's cost per search
              (p50/p95, N = 20 and 50) beside the same searches with it off, on the `--data` index
              (MCDEWEY_RERANK's model, else a stand-in built from the installed embedding model).

The machine is shared and noisy, so every speed is a median over repeats, and options are measured
interleaved (round robin) so that a burst of load hits them alike; ratios are what to compare.

Nothing here touches the user's index: the bench builds its own library and data folders under a
temporary directory. `--quick` uses the demo library and small sizes (under three minutes); the full
run takes `--library` (a representative subset of it: a few documents of each format, preferring
those the question set asks about) and, with an explicit `--data`, searches that existing index
read-only (its Chroma folder is copied before a Chroma server is started on it).

Modules: `plan` (sections, expected figures, sizes), `figures`, `report` (the Markdown table),
`questions`, `processes` and `clients` (the servers and the latency clients), `context` (the state the
sections share), one module per section (`prepare`, `encoders`, `ingest`, `search` with `scale`,
`concurrency`, `answer`, `scale_section` with `scale` and `keyword_build`, `rerank`), and `run`, which runs them
in order.
"""

from assistant.measure.bench.plan import EXPECTED, SECTIONS
from assistant.measure.bench.run import run_bench

__all__ = ["EXPECTED", "SECTIONS", "run_bench"]
