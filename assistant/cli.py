"""`mcdewey`: ingest a library, search it, measure it, and serve it (web, REST, MCP, chat)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from assistant.settings import Settings

DEFAULT_MAX_FILE_CHUNKS = 10_000  # indexing.ingest.DEFAULT_MAX_FILE_CHUNKS (not imported: --help stays fast)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("library", "data", "host", "port", "chroma_url"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def _progress() -> tuple[Callable[[str, int, int], None], Callable[[], None]]:
    """A rich progress bar on a terminal; a line per 10% of each stage otherwise (logs, CI)."""
    if not sys.stderr.isatty():
        shown: dict[str, int] = {}

        def log(stage: str, done: int, total: int) -> None:
            tenth = 10 * done // max(total, 1)
            if shown.get(stage, -1) < tenth:
                shown[stage] = tenth
                print(f"{stage}: {done}/{total}", file=sys.stderr, flush=True)

        return log, (lambda: None)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description:>15}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   transient=False)
    tasks: dict[str, Any] = {}
    bar.start()

    def update(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = bar.add_task(stage, total=total)
        bar.update(tasks[stage], completed=done, total=total)

    return update, bar.stop


def cmd_ingest(args: argparse.Namespace) -> int:
    from assistant.demo import ensure_demo_library
    from indexing.embedder import Embedder
    from indexing.index import Index
    from indexing.ingest import IngestBusy, Ingester
    from indexing.store import StoreUnavailable

    settings = _settings(args)
    if settings.library == Settings.model_fields["library"].default:
        ensure_demo_library(settings.library)
    update, stop = _progress()
    embedder = Embedder(settings.embed_threads, settings.embed_batch, settings.embed_backend)
    index = Index(settings.data, settings.chroma_url, settings.collection, embedder)
    try:
        ingester = Ingester(index, progress=update, max_file_chunks=args.max_file_chunks)
        report = ingester.run(settings.library, force=args.force)
    except IngestBusy as exc:
        stop()
        print(f"mcdewey ingest: {exc}", file=sys.stderr)
        return 3
    except (FileNotFoundError, ValueError) as exc:
        stop()
        print(f"mcdewey ingest: {exc}", file=sys.stderr)
        return 2
    except StoreUnavailable as exc:
        stop()
        print(f"mcdewey ingest: {exc}\nNothing is lost: run `mcdewey ingest` again when Chroma is back.",
              file=sys.stderr)
        return 2
    finally:
        stop()
    summary = {
        "added": len(report.added), "updated": len(report.updated), "removed": len(report.removed),
        "unchanged": report.unchanged, "skipped": len(report.skipped), "failed": len(report.failed),
        "warned": len(report.warnings), "partial": sum(p.partial for p in report.warnings),
        "repaired": report.repaired, "chunks_added": report.chunks_added,
        "chunks_embedded": report.chunks_embedded, "chunks_total": report.chunks_total,
        "seconds": round(report.seconds, 2),
    }
    if args.json:
        print(json.dumps({**summary, "failures": [vars(p) for p in report.failed],
                          "warnings": [vars(p) for p in report.warnings],
                          "skipped_files": [vars(p) for p in report.skipped]}, indent=2))
    else:
        print(f"Library {settings.library} → index {settings.data}")
        print(", ".join(f"{k} {v}" for k, v in summary.items()))
        for p in report.failed:
            print(f"  FAILED  {p.source}: {p.reason}")
        for p in report.warnings:
            print(f"  {'partial' if p.partial else 'warning'} {p.source}: {p.reason}")
        if args.verbose:
            for p in report.skipped:
                print(f"  skipped {p.source}: {p.reason}")
    return 1 if (args.strict and (report.failed or report.warnings)) else 0


def _service(args: argparse.Namespace) -> Any:
    from assistant.service import LibraryService

    return LibraryService(_settings(args))


def cmd_search(args: argparse.Namespace) -> int:
    from assistant.errors import McDeweyError

    service = _service(args)
    try:
        chunks = service.search(args.query, args.top_k, args.product, args.version, args.doc, mode=args.mode)
    except McDeweyError as exc:
        print(f"mcdewey search: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([c.model_dump() for c in chunks], indent=2, ensure_ascii=False))
        return 0
    for i, c in enumerate(chunks, 1):
        where = " · ".join(x for x in (c.doc_title, c.version, c.pages_text(), " › ".join(c.heading)) if x)
        snippet = " ".join(c.text.split())[:240]
        print(f"[{i}] {where}  (score {c.score})\n    {c.source}  {c.chunk_id}\n    {snippet}\n")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from indexing.evaluate import evaluate, load_questions

    service = _service(args)
    questions = load_questions(Path(args.questions))
    if args.answers:
        from assistant.evaluate_answers import evaluate_answers

        result = evaluate_answers(service, questions)
        print(json.dumps(result, indent=2) if args.json else _answers_table(result))
        return 0
    results = {
        mode: evaluate(questions, lambda q, k, m=mode: service.search(q, k, mode=m))
        for mode in ("hybrid", "keyword", "dense")
    }
    if args.json:
        print(json.dumps({m: {"overall": r.overall.as_dict(), "by_style": {s: v.as_dict() for s, v in
                          r.by_style.items()}, "misses": r.misses} for m, r in results.items()}, indent=2))
        return 0
    print("| retrieval | n | hit@1 | hit@5 | hit@10 | MRR@10 |\n|---|---|---|---|---|---|")
    for mode, r in results.items():
        o = r.overall.as_dict()
        print(f"| {mode} | {o['n']} | {o['hit@1']} | {o['hit@5']} | {o['hit@10']} | {o['mrr@10']} |")
    print("\n| style (hybrid) | n | hit@1 | hit@5 | hit@10 | MRR@10 |\n|---|---|---|---|---|---|")
    for style, s in results["hybrid"].by_style.items():
        o = s.as_dict()
        print(f"| {style} | {o['n']} | {o['hit@1']} | {o['hit@5']} | {o['hit@10']} | {o['mrr@10']} |")
    print(f"\nmissed at 5 (hybrid): {', '.join(results['hybrid'].misses) or 'none'}")
    return 0


def _answers_table(result: dict[str, Any]) -> str:
    return "\n".join(f"{k}: {v}" for k, v in result.items() if not isinstance(v, list | dict))


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.server import serve

    serve(_settings(args))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from assistant.ask import ask_cli

    return ask_cli(_settings(args), args.question, args.product, args.version, args.json)


def cmd_bench(args: argparse.Namespace) -> int:
    from assistant.bench import run_bench

    return run_bench(_settings(args), quick=args.quick, as_json=args.json)


def cmd_demo(args: argparse.Namespace) -> int:
    from assistant.demo import ensure_demo_library

    path = ensure_demo_library(Path(args.path) if args.path else _settings(args).library, rebuild=True)
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcdewey",
        description="McDewey: a multi-vendor documentation library you can ask in a browser and search "
        "over MCP. Settings come from MCDEWEY_* environment variables; flags override them.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--library", type=Path, help="library root (MCDEWEY_LIBRARY)")
        p.add_argument("--data", type=Path, help="index directory (MCDEWEY_DATA)")
        p.add_argument("--chroma-url", dest="chroma_url", help="Chroma server URL (MCDEWEY_CHROMA_URL)")

    p = sub.add_parser("ingest", help="index the library (incremental: only changed files are re-embedded)")
    common(p)
    p.add_argument("--force", action="store_true", help="re-embed every file")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when any file failed or has a warning (without it, bad files are only reported)")
    p.add_argument("--max-file-chunks", type=int, default=DEFAULT_MAX_FILE_CHUNKS, metavar="N",
                   help=f"keep at most N chunks of one file (default {DEFAULT_MAX_FILE_CHUNKS:,}; the largest "
                   "manual of the shared corpus has 7,712); the rest is reported as partially indexed")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("-v", "--verbose", action="store_true", help="also list skipped files")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="hybrid search; prints chunk records (--json: a list of them)")
    common(p)
    p.add_argument("query")
    p.add_argument("--top-k", type=int, default=None, help="number of chunks (default 8)")
    p.add_argument("--product")
    p.add_argument("--version")
    p.add_argument("--doc")
    p.add_argument("--mode", default="hybrid", choices=["hybrid", "dense", "keyword"])
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("eval", help="retrieval quality on a question file (hybrid vs BM25 vs dense)")
    common(p)
    p.add_argument("questions", help="JSONL in the format of shared/eval/dev.jsonl")
    p.add_argument("--answers", action="store_true", help="evaluate answers (citations, declines, latency)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="serve web pages, REST (/api), MCP (/mcp) and the chat (/chat)")
    common(p)
    p.add_argument("--host", help="bind address (default 127.0.0.1; anything else is exposed)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("ask", help="answer a question from the library, with citations")
    common(p)
    p.add_argument("question")
    p.add_argument("--product")
    p.add_argument("--version")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("bench", help="benchmarks: ingest vs encoder, search latency, concurrency, answers")
    common(p)
    p.add_argument("--quick", action="store_true", help="small run (< 3 minutes) on the demo library")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("demo", help="(re)build the demo library (McDewey's own guide, Markdown and PDF)")
    p.add_argument("path", nargs="?", help="where to build it (default: MCDEWEY_LIBRARY's default)")
    p.set_defaults(func=cmd_demo)
    return parser


def setting_errors(exc: ValidationError) -> list[str]:
    """'MCDEWEY_PORT: Input should be a valid integer' for each bad setting (no traceback)."""
    return [
        f"MCDEWEY_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']} (got {err.get('input')!r})"
        for err in exc.errors()
    ]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        for line in setting_errors(exc):
            print(f"mcdewey: invalid setting {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
