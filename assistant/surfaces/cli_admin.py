"""`mcdewey remove`, `mcdewey trash`, `mcdewey restore`: library management for a shell user.

The same trash as the server's (`assistant.library_admin.trash`, under the data directory): what the
CLI removes, the web page and the API can restore, and the other way round. After the file step the
command re-indexes (`mcdewey ingest`, with its progress) unless `--no-ingest`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from assistant.errors import McDeweyError
from assistant.settings import Settings

Command = Callable[[argparse.Namespace], int]
INGEST_DEFAULTS = {"force": False, "strict": False, "json": False, "verbose": False}


def _trash(settings: Settings) -> Any:
    from assistant.library_admin.trash import Trash

    return Trash(settings.data / "trash", settings.library, settings.trash_days)


def add_admin_commands(sub: Any, common: Callable[[argparse.ArgumentParser], None],
                       settings_of: Callable[[argparse.Namespace], Settings], ingest: Command) -> None:
    """Register the commands; `ingest` is `mcdewey ingest`'s own function (run after each change)."""

    def reindex(args: argparse.Namespace) -> int:
        if args.no_ingest:
            print("run `mcdewey ingest` to update the index", file=sys.stderr)
            return 0
        return ingest(argparse.Namespace(**{**INGEST_DEFAULTS, **vars(args), "max_file_chunks": args.max_chunks}))

    def remove(args: argparse.Namespace) -> int:
        from assistant.library_admin.admin import KINDS
        from assistant.library_admin.names import Target

        settings = settings_of(args)
        try:
            target = Target.of(*args.path.strip("/").split("/", 3))
            item = _trash(settings).put(target.path, KINDS[len(target.parts) - 1])
        except McDeweyError as exc:
            print(f"mcdewey remove: {exc}", file=sys.stderr)
            return 2
        print(f"moved {item.path} to the trash (restore with: mcdewey restore {item.id})")
        return reindex(args)

    def restore(args: argparse.Namespace) -> int:
        try:
            item = _trash(settings_of(args)).restore(args.item)
        except McDeweyError as exc:
            print(f"mcdewey restore: {exc}", file=sys.stderr)
            return 2
        print(f"restored {item.path}")
        return reindex(args)

    def trash(args: argparse.Namespace) -> int:
        items = _trash(settings_of(args)).items()
        if args.json:
            print(json.dumps([vars(i) for i in items], indent=2))
        for i in [] if args.json else items:
            print(f"{i.id}  {i.kind:<7}  {i.reason:<8}  {i.path}")
        return 0

    def changes(p: argparse.ArgumentParser) -> None:
        common(p)
        p.add_argument("--no-ingest", action="store_true", help="only move the files; index later")
        p.add_argument("--max-chunks", type=int, default=10_000, metavar="N",
                       help="for the ingest that follows: keep at most N chunks of one file (default 10,000)")

    p = sub.add_parser("remove", help="move a product, version, doc or file to the trash, then re-index")
    changes(p)
    p.add_argument("path", help="<product>[/<version>[/<doc>[/<file>]]], as laid out in the library")
    p.set_defaults(func=remove)
    p = sub.add_parser("restore", help="put an item of the trash back where it was, then re-index")
    changes(p)
    p.add_argument("item", help="its id, as `mcdewey trash` lists it")
    p.set_defaults(func=restore)
    p = sub.add_parser("trash", help="list what was removed or replaced and can be restored")
    common(p)
    p.add_argument("--json", action="store_true", help="print the items as JSON")
    p.set_defaults(func=trash)
