"""`mcdewey`: ingest a library, search it, measure it, and serve it (web, REST, MCP, chat)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from assistant.settings import Settings
from assistant.surfaces.cli_admin import add_admin_commands
from assistant.surfaces.cli_parser import DEFAULT_MAX_FILE_CHUNKS as DEFAULT_MAX_FILE_CHUNKS

if TYPE_CHECKING:
    from assistant.answering.results import AnswerResult
    from indexing.ingest_progress import IngestProgress

def _settings(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    for name in ("library", "data", "host", "port", "chroma_url", "llm"):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    settings = Settings(**overrides)
    if "library" not in settings.model_fields_set:  # the library the data directory holds, else the demo
        from indexing.library_owner import recorded_library

        recorded = recorded_library(settings.data)
        if recorded is not None:
            settings = settings.model_copy(update={"library": recorded})
    return settings


def _progress(as_json: bool) -> tuple[Callable[[IngestProgress], None], Callable[[], None]]:
    """Ingest progress on stderr: JSON lines with --json (stdout keeps the report); else rich bars on a
    terminal, plain lines (a tenth of a stage, or 30 s) otherwise (logs, CI)."""
    from assistant.surfaces.progress import ingest_progress

    return ingest_progress("json" if as_json else "tty" if sys.stderr.isatty() else "lines")


NO_SPACE_AGAIN = "Nothing indexed before is lost: free some space and run `mcdewey ingest` again; it repairs the index."


def cmd_ingest(args: argparse.Namespace) -> int:
    from assistant.demo import ensure_demo_library
    from assistant.embedding import embedder_for
    from indexing.chroma_deadline import WRITE_TIMEOUT_S
    from indexing.disk_full import is_disk_full
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
    embedder = embedder_for(settings)
    try:
        index = Index(settings.data, settings.chroma_url, settings.collection, embedder,
                      chroma_timeout=max(settings.chroma_timeout, WRITE_TIMEOUT_S))
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
        "repaired": report.repaired, "vectors_removed": report.vectors_removed, "chunks_added": report.chunks_added,
        "chunks_embedded": report.chunks_embedded, "chunks_total": report.chunks_total,
        "seconds": round(report.seconds, 2),
    }
    if args.json:
        print(json.dumps({**summary, "model_switch": report.model_switch,
                          "repairs": report.repairs(), "failures": [vars(p) for p in report.failed],
                          "warnings": [vars(p) for p in report.warnings],
                          "skipped_files": [vars(p) for p in report.skipped]}, indent=2))
    else:
        print(f"Library {settings.library} → index {settings.data}")
        print(", ".join(f"{k} {v}" for k, v in summary.items()))
        if report.model_switch:
            print(f"  embedding model switched: {report.model_switch}")
        if report.repairs():
            print(f"  repaired: {report.repairs()}")
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
        from assistant.embedding import embedder_for
        from assistant.measure.support import evaluate_support, load_pairs, support_table

        settings = _settings(args)
        embedder = embedder_for(settings)
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
    if args.marks is not None:  # the page view's marks over cited sentences, pooled over the files given
        from assistant.measure.marks import run_marks
        return run_marks(service, [Path(f) for f in (args.questions, *args.marks)], args.json)
    if args.answers:
        from assistant.measure.answers import answers_table, evaluate_answers

        result = evaluate_answers(service, questions)
        print(json.dumps(result, indent=2) if args.json else answers_table(result))
        return 0
    results = evaluate_modes(questions, lambda q, k, m: service.search(q, k, mode=m))
    models = service.models()
    if args.json:
        print(json.dumps({"models": models, **modes_json(results)}, indent=2))
    else:
        print(f"models: embedding {models['embedding']} · reranker {models['reranker']}\n")
        print(modes_tables(results))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from assistant.surfaces import listen
    from indexing.library_owner import recorded_library, refusal

    settings = _settings(args)
    recorded = recorded_library(settings.data)
    if recorded is not None and recorded != settings.library.resolve():
        print(f"mcdewey serve: {refusal(settings.data, recorded, settings.library.resolve())}", file=sys.stderr)
        return 2
    try:
        sock = listen.bind(settings.host, settings.port)  # before the server's imports: a busy port says so at once
    except listen.PortBusy as exc:
        print(f"mcdewey serve: {exc}", file=sys.stderr)
        return 3
    from assistant.surfaces.server import serve

    serve(settings, sock)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """0 with an answer (or a decline), 2 for bad input or an unreachable index."""
    from assistant.answerer import Answerer
    from assistant.errors import McDeweyError
    from assistant.service import LibraryService
    from assistant.surfaces.api import ask_response

    settings = _settings(args)
    try:
        asked = Answerer(LibraryService(settings)).ask(args.question, product=args.product, version=args.version,
                                                       doc=args.doc, top_k=args.top_k)
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
    from assistant.surfaces.links import file_href, quoted, view_href

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
            lines.append(f"    {view_href(chunk, base_url)}")  # a PDF's page, or the doc context, at the sentence
            lines.append(f"    {file_href(chunk.source, chunk.page, base_url, quoted(chunk))}")
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
                     scale_dir=args.scale_dir, rerank_questions=args.rerank_questions)


def cmd_demo(args: argparse.Namespace) -> int:
    from assistant.demo import ensure_demo_library

    path = ensure_demo_library(Path(args.path) if args.path else _settings(args).library, rebuild=True)
    print(path)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `mcdewey` parser (`cli_parser`), each command bound to its function here."""
    from assistant.surfaces.cli_parser import parser_for

    return parser_for({"ingest": cmd_ingest, "search": cmd_search, "eval": cmd_eval, "serve": cmd_serve,
                       "ask": cmd_ask, "bench": cmd_bench, "demo": cmd_demo},
                      lambda sub, common: add_admin_commands(sub, common, _settings, cmd_ingest))


SECRET_SETTINGS = frozenset({"api_token", "admin_token", "openai_api_key"})


def _shown_input(err: Any) -> str:
    """The bad value as the message may show it: never a secret setting's, never a URL's credentials."""
    if err["loc"] and str(err["loc"][0]) in SECRET_SETTINGS:
        return ""
    return " (got {!r})".format(re.sub(r"(//)[^/@\s]*@", r"\1***@", str(err.get("input"))))


def setting_errors(exc: ValidationError) -> list[str]:
    """'MCDEWEY_PORT: Input should be a valid integer' for each bad setting (no traceback)."""
    return [  # (a rule over several settings has no one name: its message names them)
        f"MCDEWEY_{'_'.join(str(p) for p in err['loc']).upper()}: {err['msg']}{_shown_input(err)}"
        if err["loc"] else str(err["msg"]).removeprefix("Value error, ")
        for err in exc.errors()
    ]


def main(argv: list[str] | None = None) -> int:
    from indexing.ranking.cross_encoder import RerankerUnavailable

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ValidationError as exc:
        if exc.title != Settings.__name__:
            raise
        for line in setting_errors(exc):
            print(f"mcdewey: invalid setting {line}", file=sys.stderr)
        return 2
    except RerankerUnavailable as exc:  # passed the settings' config check, then failed to load
        print(f"mcdewey: invalid setting MCDEWEY_RERANK: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
