"""The `mcdewey` command line's words: every command, its description and every option's help.

Kept apart from `cli` (what each command does) so that both stay readable; `parser_for` binds each
command name to its function. Each command's `--help` opens with what it does, then its options.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from indexing.modes import MODES

DEFAULT_MAX_FILE_CHUNKS = 10_000  # indexing.ingest.DEFAULT_MAX_FILE_CHUNKS (not imported: --help stays fast)

Command = Callable[[argparse.Namespace], int]

SERVE_DETAILS = """Listens on 127.0.0.1:8000 unless --host/--port (or MCDEWEY_HOST / MCDEWEY_PORT) say otherwise;
a port in use is reported with how to pick another. Behind a reverse proxy under a path, set
MCDEWEY_PUBLIC_URL to the address users type (e.g. https://docs.example.com/mcdewey): links, pages, the
chat, REST and MCP then live under its path (the proxy may also send X-Forwarded-Prefix).
MCDEWEY_API_TOKEN protects everything but /healthz with one sign-in for the pages and the chat."""

ASK_DETAILS = """The answer is made only of the library's passages, with [n] citations and their links; when the
library does not hold an answer it says so and shows the closest passages. --llm picks the language
model for this question (default MCDEWEY_LLM, 'embedded')."""


def _filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--product", help="only this product (its folder name, e.g. mcdewey)")
    p.add_argument("--version", help="only this version (its folder name, e.g. 1.0)")


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--library", type=Path, help="library root (MCDEWEY_LIBRARY)")
    p.add_argument("--data", type=Path, help="index directory (MCDEWEY_DATA); one library per data directory")
    p.add_argument("--chroma-url", dest="chroma_url", help="Chroma server URL (MCDEWEY_CHROMA_URL)")


def parser_for(commands: Mapping[str, Command],
               more: Callable[[Any, Callable[[argparse.ArgumentParser], None]], None] | None = None,
               ) -> argparse.ArgumentParser:
    """The parser, with `commands[name]` as each subcommand's `func`; `more(subparsers, common)` adds the
    commands another module owns (library management's remove, trash, restore)."""
    parser = argparse.ArgumentParser(
        prog="mcdewey",
        description="McDewey: a multi-vendor documentation library you can ask in a browser and search "
        "over MCP. Settings come from MCDEWEY_* environment variables; flags override them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="`mcdewey COMMAND --help` shows a command's options")

    def command(name: str, summary: str, details: str = "") -> argparse.ArgumentParser:
        """A subcommand whose --help opens with `summary` (and `details`), as the list of commands shows it."""
        description = f"{summary[0].upper()}{summary[1:]}." + (f"\n\n{details}" if details else "")
        p = sub.add_parser(name, help=summary, description=description,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
        p.set_defaults(func=commands[name])
        return p

    p = command("ingest", "index the library (incremental: only changed files are re-embedded)",
                "A data directory holds one library's index: another library needs its own --data.")
    _common(p)
    p.add_argument("--force", action="store_true",
                   help="re-embed every file; with another library than the data directory's, replace its index")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when any file failed or has a warning (without it, bad files are only reported)")
    p.add_argument("--max-file-chunks", type=int, default=DEFAULT_MAX_FILE_CHUNKS, metavar="N",
                   help=f"keep at most N chunks of one file (default {DEFAULT_MAX_FILE_CHUNKS:,}); the rest of "
                   "the file is left out and reported as partially indexed")
    p.add_argument("--json", action="store_true",
                   help="print the report as JSON on stdout, and progress as JSON lines on stderr")
    p.add_argument("-v", "--verbose", action="store_true", help="also list skipped files, each with the reason")

    p = command("search", "hybrid search; prints chunk records (--json: a list of them)")
    _common(p)
    p.add_argument("query", help="what to look for: words, an identifier, or a question")
    p.add_argument("--top-k", type=int, default=None, help="number of chunks (default 8, MCDEWEY_TOP_K)")
    _filters(p)
    p.add_argument("--doc", help="search only this document (its folder name, e.g. user-guide)")
    p.add_argument("--mode", default="hybrid", choices=MODES,
                   help="hybrid (default: keyword and meaning, fused), dense (meaning only) or keyword (BM25 only)")
    p.add_argument("--json", action="store_true", help="print the chunk records as a JSON list")

    p = command("eval", "retrieval quality on a question file (hybrid vs BM25 vs dense)")
    _common(p)
    p.add_argument("questions", help="JSONL in the format of shared/eval/dev.jsonl")
    p.add_argument("--answers", action="store_true", help="evaluate answers (citations, declines, latency)")
    p.add_argument("--support", action="store_true",
                   help="QUESTIONS is a file of labelled (sentence, passage, supported) pairs: measure the "
                   "check that keeps a model's sentence only when its passage says it")
    p.add_argument("--followups", action="store_true",
                   help="QUESTIONS is a file of two-turn conversations: does the second answer cite the "
                   "follow-up's own answer?")
    p.add_argument("--marks", nargs="*", metavar="MORE", help="answer QUESTIONS (and MORE files): does the page "
                   "view's mark cover 200 sampled cited PDF sentences?")
    p.add_argument("--json", action="store_true", help="print the measures as JSON instead of tables")

    p = command("serve", "serve web pages, REST (/api), MCP (/mcp) and the chat (/chat)", SERVE_DETAILS)
    _common(p)
    p.add_argument("--host", help="bind address (default 127.0.0.1, MCDEWEY_HOST; anything else is exposed)")
    p.add_argument("--port", type=int, help="port (default 8000, MCDEWEY_PORT)")

    p = command("ask", "answer a question from the library, with citations", ASK_DETAILS)
    _common(p)
    p.add_argument("question", help="the question, in plain words (quote it)")
    _filters(p)
    p.add_argument("--doc", help="answer only from this document (its folder name, e.g. user-guide)")
    p.add_argument("--top-k", type=int, default=None,
                   help="passages the answer is drawn from (default MCDEWEY_TOP_K, at most 20)")
    p.add_argument("--llm", metavar="MODEL",
                   help="the language model: embedded, none (the passages' own words), ollama:<model> or "
                   "openai:<model> (MCDEWEY_LLM)")
    p.add_argument("--json", action="store_true",
                   help="print the answer as the REST /api/ask response (answer, citations, passages)")

    p = command("bench", "benchmarks: ingest vs encoder, search latency, concurrency, answers")
    _common(p)
    p.add_argument("--quick", action="store_true", help="small run (< 3 minutes) on the demo library")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    p.add_argument("--scale", metavar="SIZES",
                   help="run only the scale section, at these sizes in chunks (e.g. 10k,100k,300k,1M): copies of "
                   "the --data index (else of the demo library's) searched with and without a product filter")
    p.add_argument("--scale-dir", dest="scale_dir", type=Path, metavar="DIR",
                   help="keep the scale indexes in DIR and reuse them in later runs (a 1M-chunk build takes "
                   "tens of minutes; default: a temporary folder, removed afterwards)")
    p.add_argument("--rerank", dest="rerank_questions", type=Path, metavar="QUESTIONS",
                   help="run only the reranker section: each question of QUESTIONS (JSONL, e.g. "
                   "tests/eval/heldout.jsonl) searched on the --data index with the cross-encoder off and on "
                   "the first 20 and 50 (MCDEWEY_RERANK, else a stand-in built from the embedding model)")

    p = command("demo", "(re)build the demo library (McDewey's own guide, Markdown and PDF)")
    p.add_argument("path", nargs="?", help="where to build it (default: MCDEWEY_LIBRARY's default)")
    if more is not None:
        more(sub, _common)
    return parser
