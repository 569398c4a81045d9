"""`python -m assistant.measure.bench.keyword_build DATA`: build and save the BM25 index of DATA's
catalog as an ingest does (from the stored terms), then print {seconds, peak_mb} as one JSON line.

Run by the scale bench in a fresh process, so the peak is the build's own: VmHWM after the build
less the RSS before it (imports and the open catalog excluded).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from assistant.measure.bench.processes import rss_mb


def main(data: Path) -> dict[str, float]:
    from indexing.catalog import Catalog
    from indexing.keyword import KeywordIndex, keyword_text
    from indexing.tokens import tokenize

    catalog = Catalog(data / "catalog.sqlite3")
    before, _ = rss_mb(os.getpid())
    t0 = time.perf_counter()
    pairs = ((c, t if t is not None else " ".join(tokenize(keyword_text(c))))
             for c, t in catalog.iter_chunks_with_terms())
    KeywordIndex.build(pairs).save(data / "keyword")
    seconds = time.perf_counter() - t0
    _, peak = rss_mb(os.getpid())
    return {"seconds": round(seconds, 2), "peak_mb": round(peak - before, 1)}


if __name__ == "__main__":
    print(json.dumps(main(Path(sys.argv[1]))))
