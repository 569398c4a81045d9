"""Chainlit's app root: a private folder for this process, so Chainlit writes nothing into the checkout.

Chainlit reads `.chainlit/config.toml`, `chainlit.md` and `public/` from its app root
(`CHAINLIT_APP_ROOT`, read once, when `chainlit.config` is first imported), and that import also
copies every translation file it ships (23 languages) into `<root>/.chainlit/translations/` unless a
file of that name is there, and makes `<root>/.files/`. So the app root is a temporary folder made
here: it links to the project's config, welcome text and public files, and holds a file for every
language Chainlit ships, each McDewey's English words (Chainlit's en-US with McDewey's words where
Chainlit speaks of itself or of "LLMs", see `WORDS`), as the answers and the help are in English.
Chainlit finds every file there, so it copies none. The folder is removed when the process ends.

`prepare()` must run before Chainlit is first imported; `chat.py` and `server.mount_chat` call it.
`keep_page_offline()` (called by `chat.py`) drops the links to other hosts that Chainlit writes into its
page whatever the config says (KaTeX's stylesheet, Google Fonts' preconnects): McDewey runs offline.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import shutil
import tempfile
from importlib.util import find_spec
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LINKED = (".chainlit/config.toml", "chainlit.md", "public")  # what Chainlit reads from the project
LANGUAGE = "en-US"
# A <link> (stylesheet, preconnect) to another host; Chainlit 2.12's page has three, one spread over lines.
REMOTE_LINK = re.compile(r"""<link\b[^>]*\bhref=["']?(?:https?:)?//[^>]*>\s*""", re.IGNORECASE)
# McDewey's words for Chainlit's defaults (merged into Chainlit's en-US.json, key by key).
WORDS: dict[str, Any] = {
    "auth": {"login": {
        "title": "Sign in to McDewey",
        "form": {"email": {"label": "Your name", "placeholder": "any name", "required": "a name is required"},
                 "password": {"label": "Access token (MCDEWEY_API_TOKEN)", "required": "the token is required"}},
    }},
    "chat": {
        "input": {"placeholder": "Ask about the manuals in this library…"},
        "watermark": "Answers come only from this library's manuals; each [n] cites the page it rests on.",
    },
    "navigation": {"header": {"readme": "Help"}},
}


def merged(base: dict[str, Any], words: dict[str, Any]) -> dict[str, Any]:
    """`base` with `words` written over it, nested key by nested key."""
    out = dict(base)
    for key, value in words.items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def chainlit_translations() -> Path | None:
    """The folder of translations Chainlit ships (found without importing Chainlit)."""
    spec = find_spec("chainlit")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "translations"


def chainlit_translation(language: str = LANGUAGE) -> dict[str, Any]:
    """Chainlit's shipped translation for `language` ({} if it ships none)."""
    folder = chainlit_translations()
    path = folder / f"{language}.json" if folder else None
    return json.loads(path.read_text(encoding="utf-8")) if path and path.is_file() else {}


def build(root: Path, project: Path = PROJECT_ROOT) -> Path:
    """Lay out a Chainlit app root at `root` over `project`'s files; return it."""
    translations = root / ".chainlit" / "translations"
    translations.mkdir(parents=True, exist_ok=True)
    for name in LINKED:
        link = root / name
        if not link.exists():
            link.symlink_to(project / name)
    words = json.dumps(merged(chainlit_translation(), WORDS), ensure_ascii=False, indent=2)
    folder = chainlit_translations()
    languages = {p.name for p in folder.glob("*.json")} if folder else set()
    for name in languages | {f"{LANGUAGE}.json"}:
        (translations / name).write_text(words, encoding="utf-8")
    return root


def prepare() -> Path:
    """Point `CHAINLIT_APP_ROOT` at this process's private app root (made once), unless it is set."""
    chosen = os.environ.get("CHAINLIT_APP_ROOT")
    if chosen:
        return Path(chosen)
    root = Path(tempfile.mkdtemp(prefix="mcdewey-chainlit-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    build(root)
    os.environ["CHAINLIT_APP_ROOT"] = str(root)
    return root


def offline_page(html: str) -> str:
    """Chainlit's page without links to other hosts (the KaTeX stylesheet is unused: `latex = false`;
    the fonts come from public/theme.json)."""
    return REMOTE_LINK.sub("", html)


def keep_page_offline() -> None:
    """Serve Chainlit's page through `offline_page` (its route looks the template function up per request)."""
    import chainlit.server as server

    template = server.get_html_template
    if getattr(template, "mcdewey_offline", False):
        return

    def offline_template(root_path: str) -> str:
        return offline_page(template(root_path))

    offline_template.mcdewey_offline = True  # type: ignore[attr-defined]
    server.get_html_template = offline_template
