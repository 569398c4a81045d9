"""The one service behind every surface: CLI, REST, MCP, web pages and chat call only this.

It validates requests (so every surface rejects the same things with the same reason) and returns
`Chunk` records, so every surface shows the same data.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

from pydantic import BaseModel

from assistant.embedding import embedder_for
from assistant.errors import BadRequest, NotFound, NothingIndexed, Unavailable
from assistant.settings import Settings
from indexing.catalog import Catalog, FileRecord, StoredChunk
from indexing.chunk import FILTER_KEYS, Chunk, split_chunk_id
from indexing.chunk import FOLDER_NAME as FILTER_VALUE
from indexing.index import Index, ModelMismatch
from indexing.modes import MODES
from indexing.ranking.pipeline import default_stages
from indexing.ranking.state import Stage
from indexing.retriever import Retriever
from indexing.store import StoreUnavailable

MAX_QUERY_CHARS = 2000
MAX_CONTEXT = 20
MAX_ID_CHARS = 1000  # chunk ids and library paths; longer is no name the library can hold
# What an HTML manual's pages link to beside it: served from the folder of an indexed document (/files).
ASSET_SUFFIXES = frozenset({".css", ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".bmp", ".ico",
                            ".woff", ".woff2", ".ttf", ".otf", ".eot"})


def shown(value: str, limit: int = 80) -> str:
    """A caller's value quoted for an error message, cut short: errors never echo a huge input."""
    return repr(value if len(value) <= limit else value[:limit] + "…")


class DocumentInfo(BaseModel):
    doc: str
    title: str
    files: int
    pages: int
    chunks: int
    entry: str  # the file to open first (index.html of an HTML manual, else the first file)


class VersionInfo(BaseModel):
    version: str
    documents: list[DocumentInfo]


class ProductInfo(BaseModel):
    product: str
    versions: list[VersionInfo]


class VendorInfo(BaseModel):
    vendor: str
    products: list[ProductInfo]


class LibraryListing(BaseModel):
    vendors: list[VendorInfo]
    documents: int
    files: int
    chunks: int


@dataclass(frozen=True)
class ChunkPart:
    """The part of one chunk on one page (the whole chunk where the file has no pages)."""

    chunk: Chunk
    page: int | None
    label: str | None
    text: str
    first: bool  # the chunk's first part in the view


@dataclass(frozen=True)
class PageView:
    """A stretch of one document for the doc-context page: its chunks, page by page."""

    file: FileRecord
    chunks: list[StoredChunk]
    first_page: int | None
    last_page: int | None

    def parts(self) -> list[ChunkPart]:
        """Each chunk's text cut at its page starts, so every page shows its own text, even the text
        of a chunk that starts on the page before; the start a chunk repeats from the one before it
        (overlap) is dropped when that one is shown too, and pages outside the view are left out."""
        out: list[ChunkPart] = []
        previous: Chunk | None = None
        window = None if self.first_page is None or self.last_page is None else (self.first_page, self.last_page)
        for stored in self.chunks:
            c = stored.chunk
            skip = stored.overlap_chars if previous is not None and previous.ordinal == c.ordinal - 1 else 0
            previous = c
            spans = c.page_spans()
            if window is None or not spans:
                out.append(ChunkPart(c, None, None, c.text[skip:], True))
                continue
            first = True
            for start, end in spans:
                text = c.text[max(start.offset, skip) : end].strip("\n")
                if not text or not window[0] <= start.page <= window[1]:
                    continue
                out.append(ChunkPart(c, start.page, start.label, text, first))
                first = False
        return out


def _listing(files: list[FileRecord]) -> LibraryListing:
    tree: dict[str, dict[str, dict[str, dict[str, list[FileRecord]]]]] = {}
    for f in sorted(files, key=lambda r: (r.vendor.lower(), r.product, r.version, r.doc, r.source)):
        tree.setdefault(f.vendor, {}).setdefault(f.product, {}).setdefault(f.version, {}).setdefault(
            f.doc, []).append(f)
    vendors = []
    for vendor, products in tree.items():
        plist = []
        for product, versions in products.items():
            vlist = []
            for version, docs in versions.items():
                dlist = []
                for doc, recs in docs.items():
                    entry = next((r.source for r in recs if r.source.endswith("/index.html")), recs[0].source)
                    dlist.append(DocumentInfo(
                        doc=doc, title=recs[0].doc_title, files=len(recs), pages=sum(r.pages for r in recs),
                        chunks=sum(r.chunks for r in recs), entry=entry,
                    ))
                vlist.append(VersionInfo(version=version, documents=dlist))
            plist.append(ProductInfo(product=product, versions=vlist))
        vendors.append(VendorInfo(vendor=vendor, products=plist))
    return LibraryListing(
        vendors=vendors, documents=len({(f.product, f.version, f.doc) for f in files}), files=len(files),
        chunks=sum(f.chunks for f in files),
    )


class LibraryService:
    def __init__(self, settings: Settings, index: Index | None = None) -> None:
        self.settings = settings
        self.index = index or Index(
            settings.data, settings.chroma_url, settings.collection,
            embedder_for(settings),
            chroma_timeout=settings.chroma_timeout,
        )
        self.retriever = Retriever(self.index, default_stages(self._reranker()))

    def _reranker(self) -> Stage | None:
        """The cross-encoder stage when MCDEWEY_RERANK names one, loaded now, with the service: a model
        that cannot load stops the start (`RerankerUnavailable`), and no search waits for it to load."""
        if not self.settings.rerank:
            return None
        from indexing.devices import resolve_device
        from indexing.ranking.cross_encoder import load_cross_encoder
        from indexing.ranking.rerank import Rerank

        model = load_cross_encoder(self.settings.rerank, resolve_device(self.settings.embed_device))
        return Rerank(model, self.settings.rerank_depth, label=self.settings.rerank)

    @property
    def library_root(self) -> Path:
        return self.settings.library

    # --- search ------------------------------------------------------------------------------
    def validate_filters(self, product: str | None, version: str | None, doc: str | None) -> dict[str, str]:
        """Unknown filter values are an error, never a silently wider search."""
        filters = {k: v for k, v in (("product", product), ("version", version), ("doc", doc)) if v}
        for key, value in filters.items():
            if not isinstance(value, str) or not FILTER_VALUE.match(value):
                raise BadRequest(f"{key} {shown(str(value))} is not a valid {key} name")
        if not filters:
            return filters
        scope = self._documents()
        for key in ("product", "version", "doc"):
            if key not in filters:
                continue
            known = sorted({getattr(f, key) for f in scope})
            if filters[key] not in known:
                where = " ".join(filters[k] for k in ("product", "version") if k in filters and k != key)
                hint = ", ".join(known[:30]) or "nothing"
                raise BadRequest(f"unknown {key} {filters[key]!r}{' in ' + where if where else ''}; "
                                 f"the library has: {hint}")
            scope = [f for f in scope if getattr(f, key) == filters[key]]
        return filters

    def search(
        self, query: str, top_k: int | None = None, product: str | None = None, version: str | None = None,
        doc: str | None = None, mode: str = "hybrid",
    ) -> list[Chunk]:
        query = (query or "").strip()
        if not query:
            raise BadRequest("query is empty")
        if len(query) > MAX_QUERY_CHARS:
            raise BadRequest(f"query is longer than {MAX_QUERY_CHARS} characters")
        k = self.settings.top_k if top_k is None else top_k
        if not 1 <= k <= self.settings.max_top_k:
            raise BadRequest(f"top_k must be between 1 and {self.settings.max_top_k}, not {k}")
        if mode not in MODES:
            raise BadRequest(f"mode must be one of {', '.join(MODES)}")
        try:
            with self.index.reading():  # one published generation throughout, the latest one
                if not self._documents():  # cached per generation: an empty index says so, not "no results"
                    raise NothingIndexed(self.nothing_indexed())
                filters = self.validate_filters(product, version, doc)
                return self.retriever.search(query, k, filters, mode=mode)
        except StoreUnavailable as exc:
            raise Unavailable(str(exc)) from exc

    # --- records -----------------------------------------------------------------------------
    def get_chunk(self, chunk_id: str) -> Chunk:
        if len(chunk_id) > MAX_ID_CHARS:
            raise BadRequest(f"chunk id is longer than {MAX_ID_CHARS} characters")
        try:
            split_chunk_id(chunk_id)
        except ValueError as exc:
            raise BadRequest(f"not a chunk id: {shown(chunk_id)} (expected product::version::doc::file::N)") from exc
        chunk = self.index.catalog.get([chunk_id]).get(chunk_id)
        if chunk is None:
            raise NotFound(f"no chunk {shown(chunk_id)} in the library")
        return chunk

    def get_context(self, chunk_id: str, before: int = 1, after: int = 1) -> list[Chunk]:
        if not (0 <= before <= MAX_CONTEXT and 0 <= after <= MAX_CONTEXT):
            raise BadRequest(f"before and after must be between 0 and {MAX_CONTEXT}")
        chunk = self.get_chunk(chunk_id)
        return self.index.catalog.neighbours(chunk.source, chunk.ordinal, before, after)

    def _documents(self) -> list[SimpleNamespace]:
        """(product, version, doc) of every indexed document, re-read only after an ingest published."""

        def documents(catalog: Catalog) -> list[SimpleNamespace]:
            keys = sorted({tuple(getattr(f, k) for k in FILTER_KEYS) for f in catalog.files().values()})
            return [SimpleNamespace(**dict(zip(FILTER_KEYS, key, strict=True))) for key in keys]

        return self.index.derived("documents", documents)

    def list_library(self) -> LibraryListing:
        return _listing(list(self.index.catalog.files().values()))

    def file_record(self, source: str) -> FileRecord:
        record = self.index.catalog.file(source) if len(source) <= MAX_ID_CHARS else None
        if record is None:
            raise NotFound(f"no document {shown(source)} in the library")
        return record

    def original(self, source: str) -> FileRecord | None:
        """Whether /files may serve `source`: an indexed file (its record) or an asset (stylesheet, image,
        font) inside the folder of an indexed document (None). Anything else under the library root
        (COPYRIGHT, MANIFEST.tsv, mcdewey.toml, a file that failed or was skipped, a notes.docx put
        there) is NotFound: the library is what was indexed, not whatever sits in its folder."""
        record = self.index.catalog.file(source) if len(source) <= MAX_ID_CHARS else None
        if record is not None:
            return record
        parts = source.split("/")
        if len(parts) > len(FILTER_KEYS) and Path(source).suffix.lower() in ASSET_SUFFIXES:
            folder = dict(zip(FILTER_KEYS, parts, strict=False))
            if any(all(getattr(d, k) == v for k, v in folder.items()) for d in self._documents()):
                return None
        raise NotFound(f"no file {shown(source)} in the library's index")

    def page_view(self, source: str, page: int | None, around: int = 1) -> PageView:
        """The chunks of `page` and its neighbours (paged formats) or of the whole file."""
        record = self.file_record(source)
        if record.pages and page is not None:
            if not 1 <= page <= record.pages:
                raise NotFound(f"{source} has pages 1–{record.pages}, not {page}")
            first, last = max(1, page - around), min(record.pages, page + around)
            return PageView(record, self.index.catalog.page_chunks(source, first, last), first, last)
        return PageView(record, self.index.catalog.file_chunks(source), None, None)

    def nothing_indexed(self) -> str:
        """What every surface says when the data directory holds no chunk: where, and what to run."""
        return (f"nothing is indexed in {self.settings.data} yet: run `mcdewey ingest --library "
                f"{self.library_root} --data {self.settings.data}` to index the library")

    # --- health ------------------------------------------------------------------------------
    def models(self) -> dict[str, str]:
        """The models behind what this service returns, for `mcdewey eval` and `bench` to name: the
        embedding model of the served vectors (else the configured one), the reranker, the chat model."""
        served = self.index.active()[1] or self.index.embedder.spec
        rerank = self.settings.rerank
        reranker = f"{rerank} (top {self.settings.rerank_depth})" if rerank else "off"
        return {"embedding": served.label, "reranker": reranker, "chat": str(self.settings.llm)}

    def _model_health(self) -> dict[str, object]:
        """The embedding model of the vectors served, and the configured one when a switch is pending."""
        _, served = self.index.active()
        if served is None:
            return {}
        out: dict[str, object] = {"embedding_model": served.label}
        try:
            configured = self.index.embedder.spec
        except ValueError as exc:
            return {**out, "embedding_configured": f"cannot be loaded: {exc}"}
        if configured.identity != served.identity:
            out["embedding_configured"] = (f"{configured.label}: `mcdewey ingest` switches the index to it "
                                           "(searches keep using the served model until it ends)")
        return out

    def health(self) -> dict[str, object]:
        """The index this server answers from now, read the way a search reads it: its generation, its
        chunks, whether the keyword index and Chroma agree with its catalog (`current`). Status `ok`
        only when all of it holds; `unavailable` when Chroma cannot be read, `stale` when a part lags."""
        status: dict[str, object] = {"library": str(self.library_root)}
        try:
            with self.index.reading():
                self.index.store.heartbeat()
                state = self.index.state()
                self.index.query_embedder()  # the served vectors' model loads here, or says why not
        except ModelMismatch as exc:
            status.update(chunks=self.index.catalog.count(), status="unavailable", reason=str(exc))
            return status
        except StoreUnavailable as exc:
            status.update(chunks=self.index.catalog.count(), chroma=str(exc), status="unavailable")
            return status
        status.update(generation=state.generation, chunks=state.chunks, vectors=state.vectors, chroma="ok",
                      current=state.current, status="ok" if state.current else "stale", **self._model_health())
        if not state.chunks:
            status.update(status="empty", reason=self.nothing_indexed())
        elif state.keyword_chunks != state.chunks:
            status["reason"] = f"the keyword index holds {state.keyword_chunks} chunks, the catalog {state.chunks}"
        elif state.missing:
            status["reason"] = (f"Chroma has no vector for chunk {state.missing[0]!r}: run `mcdewey ingest` "
                                "to repair the index")
        return status
