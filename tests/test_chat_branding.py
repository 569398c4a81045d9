"""The chat looks and speaks like McDewey, and Chainlit writes nothing into the checkout.

Chainlit's app is one per process and it writes its files when first imported, so the mounted chat
is checked in a child process (no browser needed: its HTTP answers carry the words, logo and theme).
"""

from __future__ import annotations

import colorsys
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

from assistant.surfaces import chat_root

ROOT = Path(__file__).resolve().parents[1]
PUBLIC = ROOT / "public"
STYLE = (ROOT / "assistant" / "surfaces" / "static" / "style.css").read_text(encoding="utf-8")


def _css_variable(name: str) -> str:
    match = re.search(rf"--{name}:\s*([^;]+);", STYLE)
    assert match, name
    return match.group(1).strip()


def _hsl(hex_colour: str) -> str:
    r, g, b = (int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5))
    h, lightness, s = colorsys.rgb_to_hls(r, g, b)
    return f"{round(h * 360)} {round(s * 100)}% {round(lightness * 100)}%"


def test_config_names_mcdewey_and_loads_nothing_remote() -> None:
    config = tomllib.loads((ROOT / ".chainlit" / "config.toml").read_text(encoding="utf-8"))
    ui = config["UI"]
    assert ui["name"] == "McDewey" and "manuals" in ui["description"]
    assert ui["custom_meta_image_url"].startswith("/chat/public/")
    assert (PUBLIC / ui["custom_meta_image_url"].removeprefix("/chat/public/")).is_file()
    for name in ("logo_light.svg", "logo_dark.svg", "favicon.svg"):
        svg = (PUBLIC / name).read_text(encoding="utf-8")
        assert "<title>McDewey</title>" in svg and "http://" not in svg.replace("http://www.w3.org/2000/svg", "")


def test_theme_has_the_library_pages_colours_and_fonts() -> None:
    theme = json.loads((PUBLIC / "theme.json").read_text(encoding="utf-8"))
    assert theme["custom_fonts"] == []  # Chainlit's Google Fonts link goes
    light = theme["variables"]["light"]
    assert light["--primary"] == light["--ring"] == _hsl(_css_variable("accent"))
    assert light["--foreground"] == _hsl(_css_variable("ink"))
    assert light["--muted-foreground"] == _hsl(_css_variable("muted"))
    assert light["--border"] == _hsl(_css_variable("line"))
    page_font = re.search(r"font-family: ([^;]+);", STYLE)
    assert page_font and light["--font-sans"] == page_font.group(1).strip()


def test_chainlit_words_are_mcdewey_words() -> None:
    shipped = chat_root.chainlit_translation()
    ours = chat_root.merged(shipped, chat_root.WORDS)

    def keys(tree: dict, prefix: str = "") -> set[str]:
        return {k for key, v in tree.items() for k in (keys(v, f"{prefix}{key}.") if isinstance(v, dict)
                                                      else {prefix + key})}

    assert keys(ours) == keys(shipped)  # every word Chainlit needs is still there
    assert "make mistakes" in shipped["chat"]["watermark"]
    assert "LLM" not in ours["chat"]["watermark"] and "library" in ours["chat"]["watermark"]
    assert ours["navigation"]["header"]["readme"] == "Help"


def test_help_text_names_no_library() -> None:
    """chainlit.md is shown whatever library is served: it names none (the welcome adds what the library
    served holds and questions it answers, tests/test_welcome.py)."""
    text = (ROOT / "chainlit.md").read_text(encoding="utf-8")
    for name in ("Acme", "Router", "McDewey User Guide", "McDewey Quick Reference", "How do agents connect"):
        assert name not in text


MOUNT = """
import json, os, sys
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.surfaces.server import mount_chat

app = FastAPI()
assert mount_chat(app)
root = Path(os.environ["CHAINLIT_APP_ROOT"])
with TestClient(app) as client:
    words = client.get("/chat/project/translations", params={"language": "de-DE"}).json()["translation"]
    out = {
        "root": str(root),
        "translations": sorted(p.name for p in (root / ".chainlit" / "translations").iterdir()),
        "watermark": words["chat"]["watermark"],
        "logo": client.get("/chat/logo", params={"theme": "light"}).text,
        "favicon": client.get("/chat/favicon").text,
        "page": client.get("/chat/").text,
    }
print(json.dumps(out))
"""


def _tree(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*")} if path.exists() else {}


def test_mounted_chat_writes_nothing_into_the_checkout(tmp_path: Path) -> None:
    before = {name: _tree(ROOT / name) for name in (".chainlit", ".files")}
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAINLIT_")}
    done = subprocess.run([sys.executable, "-c", MOUNT], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert {name: _tree(ROOT / name) for name in (".chainlit", ".files")} == before
    assert not Path(out["root"]).is_relative_to(ROOT) and not Path(out["root"]).exists()  # gone at exit
    assert "en-US.json" in out["translations"]
    assert out["watermark"] == chat_root.WORDS["chat"]["watermark"]  # any language: McDewey's words
    assert out["logo"] == (PUBLIC / "logo_light.svg").read_text(encoding="utf-8")
    assert out["favicon"] == (PUBLIC / "favicon.svg").read_text(encoding="utf-8")
    assert "<title>McDewey</title>" in out["page"] and "fonts.googleapis.com/css" not in out["page"]
