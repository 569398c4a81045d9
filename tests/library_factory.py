"""A small library built inside the tests: McDewey's demo guide (Markdown + PDF), an HTML manual in
two versions (one with a hostile <script>), and a plain-text manual with form feeds."""

from __future__ import annotations

from pathlib import Path

from assistant.demo import ensure_demo_library

ACME_HTML = """<!DOCTYPE html>
<html><head><title>Acme Router {version} Administration</title>
<style>body {{ color: red }}</style><script>var tracking = "SCRIPT-SHOULD-NOT-BE-INDEXED";</script></head>
<body><div class="navheader"><a href="index.html">Home</a> Prev Next</div>
<h1>Acme Router {version} Administration</h1>
<h2>Routing tables</h2>
<p>In Acme Router {version}, {table_rule}</p>
<h2>Mail delivery</h2>
<p>The <code>UmssMtaBadMail</code> folder holds messages that the message transfer agent could not
deliver. {badmail_rule}</p>
<h2>Replication</h2>
<p>The <code>max_wal_senders</code> option sets how many standby servers may stream at once.</p>
<p>Warning text shown verbatim: &lt;script&gt;alert("xss")&lt;/script&gt; must render as text.</p>
<p><a href="javascript:alert(1)">a javascript link</a> and <a href="routing.html">routing details</a>.</p>
</body></html>
"""

NOTES_TXT = (
    "Acme Router Release Notes\n\nThis release adds IPv6 multicast routing.\n"
    "\fKnown issues\n\nThe web console times out after 30 minutes of inactivity.\n"
    "\fUpgrading\n\nBack up the configuration with the export-config command before upgrading.\n"
)


def build_library(root: Path) -> Path:
    ensure_demo_library(root)
    for version, table_rule, badmail_rule in (
        ("2.0", "the routing table is declared inside the channel block of each protocol.",
         "Set purge_badmail_days to remove old messages automatically."),
        ("1.6", "the routing table is declared at the protocol level with the table keyword.",
         "Old messages must be removed by hand."),
    ):
        doc = root / "acme" / version / "admin-guide"
        doc.mkdir(parents=True, exist_ok=True)
        (doc / "admin.html").write_text(
            ACME_HTML.format(version=version, table_rule=table_rule, badmail_rule=badmail_rule), encoding="utf-8"
        )
        (doc / "style.css").write_text("body { font-family: serif }", encoding="utf-8")
    (root / "acme" / "mcdewey.toml").write_text('vendor = "Acme Networks"\n', encoding="utf-8")
    notes = root / "acme" / "2.0" / "release-notes"
    notes.mkdir(parents=True, exist_ok=True)
    (notes / "notes.txt").write_text(NOTES_TXT, encoding="utf-8")
    return root


def copy_index(indexed: Path, data: Path, library: Path) -> Path:
    """A copy of the session's index that belongs to `library` (a copy of the session's library at another
    path): a data directory records the one library it indexes, and the copy is this one's."""
    import shutil
    import sqlite3

    from indexing.library_owner import CATALOG_FILE, LIBRARY_KEY

    shutil.copytree(indexed, data)
    with sqlite3.connect(data / CATALOG_FILE) as conn:
        conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (LIBRARY_KEY, str(library.resolve())))
    return data
