"""What a user removed, kept in `<data>/trash/` until it expires (`MCDEWEY_TRASH_DAYS`): restorable.

Each removal is a folder `<id>/` holding `item.json` (what it was, when) and `content` (the file or
folder, moved there whole). `item.json` is written before the move, so a removal cut short is either
still in the library or fully in the trash; an item without content is dropped when listed. Restore
moves it back, refused (409) when the library holds that path again.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.errors import NotFound
from assistant.library_admin.errors import Conflict

ITEM = "item.json"
CONTENT = "content"
CUT_SHORT_S = 3600  # an item without content this old was a removal cut short, not one in progress


@dataclass(frozen=True)
class TrashItem:
    id: str
    path: str  # where it was in the library, '/'-separated
    kind: str  # "product", "version", "doc", "file"
    reason: str  # "removed" or "replaced"
    removed_at: float  # Unix time
    expires_at: float


class Trash:
    def __init__(self, root: Path, library: Path, keep_days: float) -> None:
        self.root = root
        self.library = library
        self.keep_s = keep_days * 86400

    def put(self, path: str, kind: str, reason: str = "removed") -> TrashItem:
        """Move `path` (relative to the library) into the trash."""
        source = self.library / path
        if not source.exists() and not source.is_symlink():
            raise NotFound(f"{path} is not in the library")
        now = time.time()
        item = TrashItem(f"{int(now)}-{uuid.uuid4().hex[:8]}", path, kind, reason, now, now + self.keep_s)
        folder = self.root / item.id
        folder.mkdir(parents=True)
        _write_json(folder / ITEM, asdict(item))
        shutil.move(str(source), str(folder / CONTENT))
        return item

    def items(self) -> list[TrashItem]:
        """Restorable items, newest first; expired ones (and removals cut short) are emptied."""
        out = []
        if not self.root.is_dir():
            return out
        now = time.time()
        for folder in self.root.iterdir():
            try:
                item = TrashItem(**json.loads((folder / ITEM).read_text(encoding="utf-8")))
            except (OSError, ValueError, TypeError):
                item = None
            content = folder / CONTENT
            whole = item is not None and (content.exists() or content.is_symlink())
            if item is not None and whole and item.expires_at > now:
                out.append(item)
            elif (item is not None and item.expires_at <= now) or now - folder.stat().st_mtime > CUT_SHORT_S:
                shutil.rmtree(folder, ignore_errors=True)
        return sorted(out, key=lambda i: i.removed_at, reverse=True)

    def get(self, item_id: str) -> TrashItem:
        for item in self.items():
            if item.id == item_id:
                return item
        raise NotFound(f"no item {item_id!r} in the trash (restorable items: GET /api/admin/trash)")

    def restore(self, item_id: str) -> TrashItem:
        """Move the item back where it was (its folders are made again when needed)."""
        item = self.get(item_id)
        target = self.library / item.path
        if target.exists() or target.is_symlink():
            raise Conflict(f"{item.path} exists in the library again; remove it first to restore this one")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(self.root / item.id / CONTENT), str(target))
        shutil.rmtree(self.root / item.id, ignore_errors=True)
        return item


def _write_json(path: Path, value: object) -> None:
    """Written to a temporary name and renamed: a reader sees the old file or the new one, whole."""
    temp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    temp.write_text(json.dumps(value, indent=1), encoding="utf-8")
    os.replace(temp, path)
