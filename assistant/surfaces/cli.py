"""`mcdewey`: ingest a library, search it, measure it, and serve it (web, REST, MCP, chat)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from assistant.settings import Settings
from assistant.surfaces.cli_admin import add_admin_commands
from indexing.modes import MODES

if TYPE_CHECKING:
    from assistant.answering.results import AnswerResult
    from indexing.ingest_progress import IngestProgress

DEFAULT_MAX_FILE_CHUNKS = 10_000  # indexing.ingest.DEFAULT_MAX_FILE_CHUNKS (not imported: --help stays fast)


def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("library", "data", "host", "port", "chroma_url"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    return Settings(**overrides)


def _progress(as_json: bool) -> tuple[Callable[[IngestProgress], None], Callable[[], None]]:
    """Ingest progress on stderr: JSON lines with --json (stdout keeps the report); else rich bars on a
    terminal, plain lines (a tenth of a stage, or 30 s) otherwise (logs, CI)."""
    from assistant.surfaces.progress import ingest_progress

    return ingest_progress("json" if as_json else "tty" if sys.stderr.isatty() else "lines")


NO_SPACE_AGAIN = "Nothing indexed before is lost: free some space and run `mcdewey ingest` again; it repairs the index."


def cmd_ingest(args: argparse.Namespace) -> int:
    from assistant.demo import ensure_demo_library
    from indexing.disk_full import is_disk_full
    from indexing.embedder import Embedder
    from indexing.index import Index
    from indexing.ingest import IngestBusy, Ingester
    from indexing.store import StoreUnavailable

    settings = _settings(args)
    if settings.library == Settings.model_fields["library"].default:
        ensure_demo_library(settings.library)
    if not settings.library.is_dir():  # before the index opens: a typo leaves no data directory behind
        print(f"mcdewey ingest: library folder not found: {settings.library}", file=sys.stderr)
        return 2
    update, stop = _progress(args.json)
    embedder = Embedder(settings.embed_threads, settings.embed_batch, settings.embed_backend,
                            settings.model_cache, settings.embed_device)
    try:
        index = Index(settings.data, settings.chroma_url, settings.collection, embedder)
        ingester = Ingester(index, progress=update, max_file_chunks=args.max_file_chunks,
                            batch_chunks=settings.ingest_batch)
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
        full = is_disk_full(exc)
        again = NO_SPACE_AGAIN if full else "Nothing is lost: run `mcdewey ingest` again when Chroma is back."
        print(f"mcdewey ingest: {'no space left on device: ' * full}{exc}\n{again}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk under the catalog or the keyword index
        if not is_disk_full(exc):
            raise
        stop()
        print(f"mcdewey ingest: no space left on device: cannot write {exc.filename or settings.data}\n"
              f"{NO_SPACE_AGAIN}", file=sys.stderr)
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
        elif report.skipped:
            print(f"  {len(report.skipped)} skipped (-v lists them with the reason)")
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
    from assistant.measure.retrieval import evaluate_modes, load_questions, modes_json, modes_tables

    if args.support:
        from assistant.answerer import embedding_similarity
        from assistant.measure.support import evaluate_support, load_pairs, support_table
        from indexing.embedder import Embedder

        settings = _settings(args)
        embedder = Embedder(settings.embed_threads, settings.embed_batch, settings.embed_backend,
                            settings.model_cache, settings.embed_device)
        outcome = evaluate_support(load_pairs(Path(args.questions)), embedding_similarity(embedder))
        print(json.dumps(outcome, indent=2) if args.json else support_table(outcome))
        return 0
    service = _service(args)
    if args.followups:
        from assistant.measure.followups import evaluate_followups, followups_table, load_conversations

        outcome = evaluate_followups(service, load_conversations(Path(args.questions)))
        print(json.dumps(outcome, indent=2) if args.json else followups_table(outcome))
        return 0
    questions = load_questions(Path(args.questions))
    if args.answers:
        from assistant.measure.answers import answers_table, evaluate_answers

        result = evaluate_answers(service, questions)
        print(json.dumps(result, indent=2) if args.json else answers_table(result))
        return 0
    results = evaluate_modes(questions, lambda q, k, m: service.search(q, k, mode=m))
    print(json.dumps(modes_json(results), indent=2) if args.json else modes_tables(results))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.surfaces.server import serve

    serve(_settings(args))
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """0 with an answer (or a decline), 2 for bad input or an unreachable index."""
    from assistant.answerer import Answerer
    from assistant.errors import McDeweyError
    from assistant.service import LibraryService
    from assistant.surfaces.api import ask_response

    settings = _settings(args)
    try:
        asked = Answerer(LibraryService(settings)).ask(args.question, product=args.product, version=args.version)
    except McDeweyError as exc:
        print(f"mcdewey ask: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(ask_response(asked, settings.base_url()).model_dump(mode="json"), indent=2,
                         ensure_ascii=False))
    else:
        print(format_answer(asked.result, settings.base_url()))
    return 0


def format_answer(result: AnswerResult, base_url: str) -> str:
    """The answer as plain text for a terminal: text, note, then the sources with their links."""
    from assistant.surfaces.links import doc_href, file_href

    lines = [result.answer]
    if result.note and not result.declined:
        lines += ["", f"Note: {result.note}"]
    if result.query != result.question:
        lines += ["", f"Searched for: {result.query} (in {result.scope})"]
    listed = result.citations if result.citations else result.passages
    if listed:
        lines += ["", "Sources:" if result.citations else "Closest passages:"]
        for n, chunk in enumerate(listed, 1):
            where = " · ".join(x for x in (chunk.doc_title, chunk.version, chunk.pages_text(),
                                           " › ".join(chunk.heading)) if x)
            lines.append(f"[{n}] {where}")
            lines.append(f"    {doc_href(chunk.source, chunk.page, chunk.chunk_id, base_url)}")
            lines.append(f"    {file_href(chunk.source, chunk.page, base_url)}")
    return "\n".join(lines)


def cmd_bench(args: argparse.Namespace) -> int:
    from assistant.measure.bench import run_bench
    from assistant.measure.bench.scale import parse_sizes

    sizes: list[int] = []
    if args.scale is not None:
        try:
            sizes = parse_sizes(args.scale)
        except ValueError as exc:
            print(f"mcdewey bench: --scale: {exc}", file=sys.stderr)
            return 2
    return run_bench(_settings(args), quick=args.quick, as_json=args.json, scale_sizes=tuple(sizes),
                     scale_dir=args.scale_dir)


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
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                help="`mcdewey COMMAND --help` shows a command's options")

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--product", help="only this product (its folder name, e.g. mcdewey)")
        p.add_argument("--version", help="only this version (its folder name, e.g. 1.0)")

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
                   help=f"keep at most N chunks of one file (default {DEFAULT_MAX_FILE_CHUNKS:,}); the rest of "
                   "the file is left out and reported as partially indexed")
    p.add_argument("--json", action="store_true",
                   help="print the report as JSON on stdout, and progress as JSON lines on stderr")
    p.add_argument("-v", "--verbose", action="store_true", help="also list skipped files, each with the reason")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("search", help="hybrid search; prints chunk records (--json: a list of them)")
    common(p)
    p.add_argument("query", help="what to look for: words, an identifier, or a question")
    p.add_argument("--top-k", type=int, default=None, help="number of chunks (default 8, MCDEWEY_TOP_K)")
    filters(p)
    p.add_argument("--doc", help="search only this document (its folder name, e.g. user-guide)")
    p.add_argument("--mode", default="hybrid", choices=MODES,
                   help="hybrid (default: keyword and meaning, fused), dense (meaning only) or keyword (BM25 only)")
    p.add_argument("--json", action="store_true", help="print the chunk records as a JSON list")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("eval", help="retrieval quality on a question file (hybrid vs BM25 vs dense)")
    common(p)
    p.add_argument("questions", help="JSONL in the format of shared/eval/dev.jsonl")
    p.add_argument("--answers", action="store_true", help="evaluate answers (citations, declines, latency)")
    p.add_argument("--support", action="store_true",
                   help="QUESTIONS is a file of labelled (sentence, passage, supported) pairs: measure the "
                   "check that keeps a model's sentence only when its passage says it")
    p.add_argument("--followups", action="store_true",
                   help="QUESTIONS is a file of two-turn conversations: does the second answer cite the "
                   "follow-up's own answer?")
    p.add_argument("--json", action="store_true", help="print the measures as JSON instead of tables")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="serve web pages, REST (/api), MCP (/mcp) and the chat (/chat)")
    common(p)
    p.add_argument("--host", help="bind address (default 127.0.0.1; anything else is exposed)")
    p.add_argument("--port", type=int, help="port (default 8000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("ask", help="answer a question from the library, with citations")
    common(p)
    p.add_argument("question", help="the question, in plain words (quote it)")
    filters(p)
    p.add_argument("--json", action="store_true",
                   help="print the answer as the REST /api/ask response (answer, citations, passages)")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("bench", help="benchmarks: ingest vs encoder, search latency, concurrency, answers")
    common(p)
    p.add_argument("--quick", action="store_true", help="small run (< 3 minutes) on the demo library")
    p.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    p.add_argument("--scale", metavar="SIZES",
                   help="run only the scale section, at these sizes in chunks (e.g. 10k,100k,300k,1M): copies of "
                   "the --data index (else of the demo library's) searched with and without a product filter")
    p.add_argument("--scale-dir", dest="scale_dir", type=Path, metavar="DIR",
                   help="keep the scale indexes in DIR and reuse them in later runs (a 1M-chunk build takes "
                   "tens of minutes; default: a temporary folder, removed afterwards)")
    p.set_defaults(func=cmd_bench)

    add_admin_commands(sub, common, _settings, cmd_ingest)  # remove, restore, trash

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
