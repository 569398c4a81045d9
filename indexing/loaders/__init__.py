"""File loaders: one per format, chosen by suffix. Each turns a file into a `LoadedDocument`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from indexing.document import LoadedDocument, LoaderError
from indexing.loaders.html import load_html
from indexing.loaders.markdown import load_markdown
from indexing.loaders.pdf import load_pdf
from indexing.loaders.text import load_text

__all__ = ["LOADERS", "is_supported", "load_file"]

LOADERS: dict[str, Callable[[Path], LoadedDocument]] = {
    ".pdf": load_pdf,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".txt": load_text,
    ".text": load_text,
}


def is_supported(path: Path) -> bool:
    """Whether some loader handles this file's suffix (case-insensitive)."""
    return Path(path).suffix.lower() in LOADERS


def load_file(path: Path) -> LoadedDocument:
    """Load a file with the loader for its suffix; any failure becomes a one-line `LoaderError`."""
    path = Path(path)
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoaderError(f"no loader for {path.suffix or 'files without a suffix'}")
    try:
        return loader(path)
    except LoaderError:
        raise
    except FileNotFoundError as exc:
        raise LoaderError("file not found") from exc
    except IsADirectoryError as exc:
        raise LoaderError("is a directory, not a file") from exc
    except PermissionError as exc:
        raise LoaderError("permission denied") from exc
    except OSError as exc:
        raise LoaderError(f"cannot read file ({exc.strerror or exc})") from exc
    except (MemoryError, RecursionError) as exc:
        raise LoaderError(f"file too large or too deeply nested to parse ({type(exc).__name__})") from exc
    except Exception as exc:  # safety net: one odd file must not abort an indexing run
        detail = str(exc).splitlines()[0][:200] if str(exc) else ""
        raise LoaderError(f"could not parse file ({type(exc).__name__}{': ' + detail if detail else ''})") from exc
