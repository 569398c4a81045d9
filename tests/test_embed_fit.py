"""What the model embeds fits its window: chunk body plus title/heading header, on the real tokenizer.

The chunker keeps a chunk's body under 220 word pieces and `embed_text` prepends a header of doc title
and heading trail; all-MiniLM-L6-v2 silently drops everything past its window, so a header that grew
or a chunk that ran long would lose the end of the passage from its vector without any error.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer

from indexing.chunk_vectors import embed_text
from indexing.embedder import Embedder
from indexing.embedding_model import model_dir
from indexing.index import Index
from indexing.ingest import Ingester
from indexing.library import file_digest, scan_library

LONG_TITLE = ("Acme Unified Communications Manager and IM and Presence Service Administration Guide "
              "for Release 14.0(1)SU3")
SENTENCES = [
    "The configuration of max_wal_senders and wal_keep_size determines how many standby servers may "
    "stream at once, and how much WAL the primary keeps for a standby that falls behind.",
    "Before upgrading, administrators should verify that certificate-based authentication succeeds on "
    "every subscriber node, including the Tomcat-ECDSA and CallManager-ECDSA certificates.",
    "Kerberos tickets expire; renew them with kinit -R before the renewable lifetime set in "
    "/etc/krb5kdc/kdc.conf ends, or the UmssMtaBadMail queue fills with undeliverable messages.",
    "The routing table is declared inside the channel block of each protocol (ipv6 multicast included), "
    "and the web console at https://192.168.10.254:8443/ccmadmin times out after 30 minutes.",
    "See Table 14-3 for the defaults of ccm_sdl_trace_max_lines, ccm_ils_sync_interval_seconds and "
    "ctimanager_heartbeat_interval_ms, which the Cisco CallManager service reads at start-up.",
]


def prose(sentences: int, start: int = 0) -> str:
    return " ".join(SENTENCES[(start + i) % len(SENTENCES)] for i in range(sentences))


def manual() -> str:
    """Long paragraphs under a five-level trail of long headings, and a run-on list of option names."""
    lines = ["# Acme Unified Communications Manager Administration Guide", ""]
    for a in range(1, 3):
        lines += [f"## Chapter {a}: Configuring Certificate-Based Authentication, Single Sign-On and "
                  "Multi-Factor Enrolment", "", prose(6, a), ""]
        for b in range(1, 3):
            lines += [f"### {a}.{b} Troubleshooting Intercluster Lookup Service (ILS) Replication Between "
                      "Subscriber Nodes", "", prose(12, b), "",
                      f"#### {a}.{b}.1 Regenerating the Tomcat-ECDSA and CallManager-ECDSA Certificates With "
                      "SAN Extensions", "", prose(15, a + b), "",
                      f"##### {a}.{b}.1.1 Verifying the ipsec_truststore and tomcat-trust Certificate Chains "
                      "on Every Node", "", prose(25, a * b), ""]
    options = ", ".join(f"ccm_{name}_timeout_{i}" for i, name in enumerate(
        "sdl ils cti tftp cdr axl ris dirsync hunt mwi".split() * 12))
    lines += ["## Reference of every service parameter of the CallManager and CTIManager services", "",
              options, "", prose(20)]
    return "\n".join(lines)


def test_every_embedded_text_fits_the_models_window(tmp_path: Path, embedder: Embedder) -> None:
    folder = tmp_path / "library" / "acme-unified-communications" / "14.0.1su3" / "administration-guide"
    folder.mkdir(parents=True)
    (folder / "mcdewey.toml").write_text(f'title = "{LONG_TITLE}"\n', encoding="utf-8")
    (folder / "guide.md").write_text(manual(), encoding="utf-8")
    (source,) = scan_library(tmp_path / "library").files
    stat = source.path.stat()
    ingester = Ingester(Index(tmp_path / "data", embedder=embedder))  # the real chunker, on the real tokenizer
    chunks = ingester.prepare(source, file_digest(source.path), stat.st_size, stat.st_mtime_ns).chunks

    window = json.loads((model_dir() / "sentence_bert_config.json").read_text())["max_seq_length"]
    tokenizer = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))  # a local file: nothing is fetched
    tokenizer.no_truncation()
    sizes = {c.chunk_id: len(tokenizer.encode(embed_text(c)).ids) for c in chunks}  # with [CLS] and [SEP]

    assert window == 256
    assert chunks[0].doc_title == LONG_TITLE and max(len(c.heading) for c in chunks) >= 5
    assert max(sizes.values()) > window - 40, "no chunk came near the window: the test lost its teeth"
    assert all(n <= window for n in sizes.values()), {k: n for k, n in sizes.items() if n > window}
