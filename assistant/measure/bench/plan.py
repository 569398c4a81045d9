"""What a bench run measures and at which sizes: the sections, the figures each must emit, the plan
(`--quick` or full)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SECTIONS = {
    "ingest": "1. Ingest vs the encoder's limit",
    "encoders": "2. Faster encoding at equal quality",
    "search": "3. Search latency and scale",
    "reingest": "4. Re-ingest of an unchanged library",
    "answer": "5. Answer latency (embedded LLM)",
    "concurrency": "6. Concurrency (MCP clients at once)",
    "scale": "7. Scale (growth curve)",
    "rerank": "8. Reranker cost per search",
}
# What `mcdewey bench` runs without `--scale` or `--rerank`; each of those runs its section alone.
DEFAULT_SECTIONS = ("ingest", "encoders", "search", "reingest", "answer", "concurrency")
# The figures every run emits (a number, or an explicit "na" reason); `encoder_*` rows vary with the
# backends available, so only the baseline and one ONNX row are required.
EXPECTED: dict[str, tuple[str, ...]] = {
    "ingest": ("ingest_vs_raw_st", "ingest_vs_same_encoder", "ingest_seconds"),
    "encoders": ("encoder_torch_t0_b32", "encoder_onnx*"),
    "search": tuple(
        f"search_{size}_{chroma}_{what}" for size in ("given", "scale") for chroma in ("embedded", "server")
        for what in ("mcp_p50", "mcp_p95", "http_p50", "http_p95", "rss_mb")
    ),
    "reingest": ("reingest_fraction", "reingest_seconds"),
    "answer": ("answer_retrieval_s", "answer_first_token_s", "answer_total_s", "answer_tokens_per_s"),
    "concurrency": ("concurrency_throughput", "concurrency_p50", "concurrency_p95", "concurrency_errors"),
    # one set per size, `scale_<size>_<figure>` (scale_section.measure_size)
    "scale": ("scale_*",),
    "rerank": ("rerank_off_p50", "rerank_20_p50", "rerank_50_p50", "rerank_stage_20_p50", "rerank_stage_50_p50"),
}
ROOT = Path(__file__).resolve().parents[3]  # the repository: the child processes run from it


@dataclass(frozen=True)
class Plan:
    quick: bool
    target_chunks: int  # size of the ingest subset (full run)
    repeats: int  # ingest / raw-encode repeats
    speed_sample: int  # texts per encoder-speed measurement
    speed_repeats: int
    requests: int  # per latency row
    scale_chunks: int
    clients: int
    seconds: float  # concurrency duration
    answers: int
    scale_sizes: tuple[int, ...] = ()  # the scale section's sizes (chunks); empty: the six sections
    scale_dir: Path | None = None  # where scale indexes are kept between runs (None: the work folder)
    rerank_questions: Path | None = None  # the reranker section's questions; None: not run

    @property
    def sections(self) -> tuple[str, ...]:
        if self.rerank_questions is not None:
            return ("rerank",)
        return ("scale",) if self.scale_sizes else DEFAULT_SECTIONS

    @classmethod
    def make(cls, quick: bool, scale_sizes: tuple[int, ...] = (), scale_dir: Path | None = None,
             rerank_questions: Path | None = None) -> Plan:
        if quick:
            return cls(True, 0, 2, 16, 3, 15, 5_000, 20, 5.0, 1, scale_sizes, scale_dir, rerank_questions)
        return cls(False, 1000, 2, 64, 3, 100, 100_000, 20, 30.0, 3, scale_sizes, scale_dir, rerank_questions)

