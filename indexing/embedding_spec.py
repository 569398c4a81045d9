"""What an index records about the model that wrote its vectors, and what a model asks for.

Takes a `ModelSource` (`indexing.embedding_model`) and the prompts a user set, and gives the model's
`EmbeddingSpec`: name, kind, dimensions, token limit, the query/document prompts it expects, the
backend that ran it and a fingerprint of its weights. The catalog keeps the spec of its vectors; a
query is only ever compared with vectors whose spec has the same `identity` (same model, same weights,
same prompts, same limit), and a model with another identity gets its own Chroma collection.

Prompts: e5, bge and nomic models embed a query and a passage differently ("query: " / "passage: ").
A sentence-transformers folder names them in `config_sentence_transformers.json`; for the families
that do not (older e5, bge v1.5, nomic through Ollama) the prefixes their model cards give are used;
`MCDEWEY_EMBED_QUERY_PROMPT` / `MCDEWEY_EMBED_DOCUMENT_PROMPT` override both.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from indexing.embedding_model import DIMENSIONS, MAX_SEQ_TOKENS, MODEL_NAME, ModelSource, weights_key

QUERY_PROMPT_NAMES = ("query", "search_query")
DOCUMENT_PROMPT_NAMES = ("document", "passage", "corpus", "search_document")
# Families whose folders often carry no prompts, with the prefixes their model cards prescribe:
# (name contains, query prompt, document prompt).
FAMILY_PROMPTS = (
    ("nomic-embed", "search_query: ", "search_document: "),
    ("e5-", "query: ", "passage: "),
    ("bge-", "Represent this sentence for searching relevant passages: ", ""),
)
# Tokens a chunk may use: the model's limit less room for the doc title and heading trail the embedded
# text starts with (all-MiniLM-L6-v2: 256 - 36 = 220, the size answers and citations were measured at),
# and never more than that measured size, whatever a larger model's window.
HEADING_ROOM_TOKENS = 36
MAX_CHUNK_TOKENS = 220


@dataclass(frozen=True)
class EmbeddingSpec:
    """The model behind a collection's vectors (stored as JSON in the catalog's meta table)."""

    name: str  # MODEL_NAME, a hub id, a folder's absolute path, or ollama:<model>
    kind: str  # packaged | sentence-transformers | ollama
    dimensions: int
    max_tokens: int  # the model's own limit; longer texts are truncated by it
    query_prompt: str = ""
    document_prompt: str = ""
    variant: str = ""  # "int8": the packaged model quantised, whose vectors are another model's
    fingerprint: str = ""  # of the weights (empty for Ollama, whose server owns them)
    backend: str = ""  # what ran it (onnx, torch, ollama): the same vectors either way, so not identity

    @property
    def identity(self) -> tuple[Any, ...]:
        """Everything that changes the vectors: two specs with equal identities give the same vectors."""
        return (self.kind, self.name, self.variant, self.fingerprint, self.query_prompt, self.document_prompt,
                self.max_tokens, self.dimensions)

    @property
    def key(self) -> str:
        return hashlib.blake2b(json.dumps(self.identity).encode(), digest_size=4).hexdigest()

    @property
    def is_default(self) -> bool:
        return self.kind == "packaged" and not (self.variant or self.query_prompt or self.document_prompt)

    @property
    def chunk_tokens(self) -> int:
        """The chunker's budget for this model (see MAX_CHUNK_TOKENS)."""
        return max(32, min(MAX_CHUNK_TOKENS, self.max_tokens - HEADING_ROOM_TOKENS))

    def collection(self, base: str) -> str:
        """The Chroma collection of this model's vectors: `base` for the default model (indexes made
        before models were a setting keep theirs), `base-<key>` for any other."""
        return base if self.is_default else f"{base}-{self.key}"

    @property
    def label(self) -> str:
        """For people: 'all-MiniLM-L6-v2 (384-d)', '/models/e5 (768-d, int8)'."""
        extra = ", int8" if self.variant else ""
        return f"{self.name} ({self.dimensions}-d{extra})"

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EmbeddingSpec:
        data = json.loads(text)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def packaged_spec(int8: bool = False, backend: str = "onnx", query_prompt: str = "",
                  document_prompt: str = "") -> EmbeddingSpec:
    """The packaged all-MiniLM-L6-v2, known without loading it."""
    from indexing.embedding_model import model_dir

    return EmbeddingSpec(MODEL_NAME, "packaged", DIMENSIONS, MAX_SEQ_TOKENS, query_prompt, document_prompt,
                         variant="int8" if int8 else "", fingerprint=weights_key(model_dir()), backend=backend)


def legacy_spec(pipeline: str | None) -> EmbeddingSpec | None:
    """The spec of an index written before specs were recorded, from its `pipeline` meta
    ('4/all-MiniLM-L6-v2', '4/all-MiniLM-L6-v2+int8'); None when it names no model."""
    name = (pipeline or "").partition("/")[2]
    if name == MODEL_NAME:
        return packaged_spec()
    if name == MODEL_NAME + "+int8":
        return packaged_spec(int8=True, backend="onnx-int8")
    return None


def model_prompts(source: ModelSource, query: str | None, document: str | None) -> tuple[str, str]:
    """The (query, document) prompts: the user's when set, else the folder's, else its family's."""
    own_q, own_d = _folder_prompts(source.folder) if source.folder else (None, None)
    if own_q is None and own_d is None and source.kind != "packaged":
        lowered = source.name.lower()
        for family, fq, fd in FAMILY_PROMPTS:
            if family in lowered:
                own_q, own_d = fq, fd
                break
    return (own_q or "" if query is None else query), (own_d or "" if document is None else document)


def _folder_prompts(folder: Path) -> tuple[str | None, str | None]:
    try:
        prompts = json.loads((folder / "config_sentence_transformers.json").read_text()).get("prompts") or {}
    except (OSError, ValueError):
        return None, None
    query = next((prompts[n] for n in QUERY_PROMPT_NAMES if n in prompts), None)
    document = next((prompts[n] for n in DOCUMENT_PROMPT_NAMES if n in prompts), None)
    return query, document
