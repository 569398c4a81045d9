"""All of McDewey's settings, read once from `MCDEWEY_*` environment variables and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from indexing.chroma_deadline import READ_TIMEOUT_S
from indexing.ranking.cross_encoder import MAX_RERANK_DEPTH, RERANK_DEPTH

DEFAULT_HOME = Path.home() / ".local" / "share" / "mcdewey"


LLM_CHOICES = "expected 'embedded', 'ollama:<model>', 'openai:<model>' or 'none'"


class LLMSettings(BaseModel):
    """Which chat model answers: `embedded`, `ollama:<model>`, `openai:<model>` or `none` in `MCDEWEY_LLM`."""

    model_config = {"frozen": True}

    kind: Literal["embedded", "ollama", "openai", "none"]
    model: str | None = Field(default=None, description="The served model's name (kinds 'ollama', 'openai').")

    @classmethod
    def parse(cls, spec: str) -> LLMSettings:
        """'embedded' | 'none' | 'ollama:<model>' | 'openai:<model>' (the model may hold colons and slashes:
        'ollama:qwen2.5:0.5b', 'openai:Qwen/Qwen2.5-7B-Instruct')."""
        spec = spec.strip()
        if spec in ("embedded", "none"):
            return cls(kind=spec)  # type: ignore[arg-type]
        kind, sep, model = spec.partition(":")
        if kind in ("ollama", "openai") and sep and model.strip():
            return cls(kind=kind, model=model.strip())  # type: ignore[arg-type]
        if kind in ("ollama", "openai"):
            raise ValueError(f"MCDEWEY_LLM={spec!r}: name the model after '{kind}:', e.g. '{kind}:qwen2.5'")
        raise ValueError(f"MCDEWEY_LLM={spec!r}: {LLM_CHOICES}")

    def __str__(self) -> str:
        return f"{self.kind}:{self.model}" if self.model else self.kind


class Settings(BaseSettings):
    """Documented defaults; every field can be set as `MCDEWEY_<NAME>` (e.g. `MCDEWEY_LIBRARY`)."""

    model_config = SettingsConfigDict(env_prefix="MCDEWEY_", extra="forbid", populate_by_name=True)

    library: Path = Field(
        default=DEFAULT_HOME / "demo-library",
        description="Library root laid out as <product>/<version>/<doc>/<files>. "
        "Default: the demo library (McDewey's own guide), built on first run.",
    )
    data: Path = Field(
        default=DEFAULT_HOME / "data",
        description="Where the index lives (Chroma, keyword index, ingest state).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (e.g. http://127.0.0.1:8001). Unset: embedded Chroma under data/.",
    )
    collection: str = Field(default="mcdewey", description="Chroma collection name.")
    chroma_timeout: float = Field(
        default=READ_TIMEOUT_S, gt=0, le=600, description="Seconds a search's request to the Chroma server may take "
        "(default 10; a search's take 3-20 ms): a hung server answers 503 then, not never. After one times "
        "out, searches are refused at once for 5 s. An ingest's writes get at least 120 s.",
    )
    embed_model: str = Field(
        default="all-MiniLM-L6-v2",
        description="The embedding model: 'all-MiniLM-L6-v2' (packaged, 384-d, the default), a "
        "sentence-transformers model folder, a model id already in the local Hugging Face cache (McDewey "
        "downloads nothing; HF_HUB_OFFLINE=0 lets sentence-transformers fetch it where the machine can), or "
        "'ollama:<model>' (an Ollama embedding model, at OLLAMA_HOST). Changing it makes the next `mcdewey "
        "ingest` switch the index: the new vectors are built beside the old, which keep answering, then "
        "replace them in one step (README 'Models').",
    )
    embed_query_prompt: str | None = Field(
        default=None, description="Text put before each question before it is embedded (unset: what the model "
        "asks for: its folder's 'query' prompt, else its family's, e.g. 'query: ' for e5; '' for none).",
    )
    embed_document_prompt: str | None = Field(
        default=None, description="Text put before each passage before it is embedded (unset: the model's "
        "'document'/'passage' prompt, else its family's, e.g. 'passage: ' for e5; '' for none).",
    )
    embed_backend: Literal["onnx", "torch", "onnx-int8"] = Field(
        default="onnx",
        description="Embedding runtime: 'onnx' (ONNX Runtime, fp32, same vectors as torch, 1.6-1.8x faster), "
        "'torch' (sentence-transformers), 'onnx-int8' (2.5x faster, other vectors: switching re-embeds the library).",
    )
    model_cache: Path | None = Field(
        default=None,
        description="Folder for the locally exported ONNX embedding models (default: inside the virtual "
        "environment, else $XDG_CACHE_HOME/mcdewey/models).",
    )
    embed_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto",
        description="Where the embedding model runs: 'auto' (a CUDA GPU when one is visible, else the CPU), "
        "'cpu', or 'cuda' (refused at start when no CUDA device is visible).",
    )
    embed_threads: int = Field(default=0, ge=0, description="Threads for embedding (0: all cores).")
    embed_batch: int = Field(default=32, ge=1, description="Embedding batch size.")
    ingest_batch: int = Field(
        default=1024, ge=1, description="Chunks an ingest encodes together, across files: larger encodes "
        "faster (less padding), smaller makes new files searchable sooner.",
    )
    rerank: str | None = Field(
        default=None,
        description="A cross-encoder that re-orders each search's first MCDEWEY_RERANK_DEPTH fused candidates "
        "by its own scores (every surface, every mode): a sentence-transformers CrossEncoder, as a folder or "
        "a model id already in the local model cache (nothing is downloaded). Unset or empty: off, the "
        "default, since no cross-encoder ships its weights in an installable package and peers found them "
        "neutral-to-negative on technical docs. Runs on MCDEWEY_EMBED_DEVICE, loaded once when the service "
        "starts; a model that is missing or is no one-score cross-encoder stops every command at start.",
    )
    rerank_depth: int = Field(
        default=RERANK_DEPTH, ge=1, le=MAX_RERANK_DEPTH,
        description="How many of the first fused candidates the reranker re-orders (1-100, default 20; the "
        "rest keep the fused order). Its cost grows with it: README 'Ranking stages and the reranker'.",
    )
    top_k: int = Field(default=8, ge=1, le=50, description="Default number of chunks a search returns.")
    max_top_k: int = Field(default=50, description="Largest top_k a caller may ask for.")
    llm: Annotated[LLMSettings, NoDecode] = Field(
        default=LLMSettings(kind="none"),
        description="'none' (the default: answers quote the manual's own words, with their source, in well "
        "under a second), 'embedded' (SmolLM2-135M in-process, no server: its sentences rarely pass the "
        "sentence check, see README 'Models'), 'ollama:<model>' (an Ollama server, OLLAMA_HOST) or "
        "'openai:<model>' (any OpenAI-compatible server: llama.cpp's llama-server, vLLM, LM Studio, LocalAI; "
        "MCDEWEY_OPENAI_BASE_URL, MCDEWEY_OPENAI_API_KEY).",
    )
    ollama_host: str = Field(
        default="", validation_alias=AliasChoices("ollama_host", "OLLAMA_HOST"),
        description="The Ollama server for 'ollama:<model>', read from OLLAMA_HOST as the ollama CLI reads it "
        "(host, host:port or a URL; default 127.0.0.1:11434).",
    )
    openai_base_url: str = Field(
        default="http://127.0.0.1:8080/v1",
        description="The OpenAI-compatible server for 'openai:<model>': http(s)://host[:port][/path], the part "
        "before /chat/completions. Default: llama.cpp's llama-server on this machine (port 8080, /v1); vLLM "
        "serves http://host:8000/v1 (give it another port than McDewey's own 8000), LM Studio http://host:1234/v1.",
    )
    openai_api_key: SecretStr | None = Field(
        default=None, description="Sent as 'Authorization: Bearer <key>' to MCDEWEY_OPENAI_BASE_URL (unset: no "
        "header, as local servers expect). A secret: never logged, nor shown in errors or /healthz.",
    )
    llm_threads: int = Field(default=1, ge=1, description="llama.cpp threads for the embedded model.")
    llm_timeout: float = Field(default=120.0, description="Seconds before an answer is cut off.")
    max_answers: int = Field(
        default=2, ge=1, description="Answers generated at once (chat, /api/ask); the embedded model runs one "
        "llama.cpp thread per answer, so 2 keeps a 2-core machine responsive. Searches never wait for these.",
    )
    answer_queue: int = Field(
        default=8, ge=0, description="Answers that may wait for a free slot; beyond that an ask is refused at "
        "once (REST: 503 with Retry-After; the chat: 'busy, try again in a few seconds').",
    )
    host: str = Field(default="127.0.0.1", description="Address the server binds to.")
    port: int = Field(default=8000, description="Port the server listens on.")
    public_url: str | None = Field(
        default=None, description="The address users and agents reach the server at (default: http://host:port); "
        "its path, if any, is the prefix a reverse proxy serves McDewey under (e.g. https://host/mcdewey)."
    )
    chat: bool = Field(default=True, description="Mount the Chainlit chat at /chat.")
    page_cache_mb: int = Field(
        default=64, ge=1, le=65536, description="Memory for rendered PDF pages of the page view, in MB (64: "
        "about 120 text pages at 1,600 px; the least recently shown go first).",
    )
    api_token: str | None = Field(
        default=None, description="When set, every route that shows the library (pages, /files, /api, /mcp, "
        "/openapi.json) needs it: 'Authorization: Bearer <token>', or a browser's login at /login (a cookie); "
        "the one sign-in at /login serves the pages and the chat (/chat). /healthz then says only its status."
    )

    admin_token: str | None = Field(
        default=None, description="The right to change the library (upload, remove, restore, re-index, cancel "
        "jobs) over REST, MCP and the management page: 'Authorization: Bearer <token>'. Unset: changes are "
        "allowed only on a server bound to loopback with neither MCDEWEY_API_TOKEN nor MCDEWEY_PUBLIC_URL, "
        "and not through a proxy; refused otherwise.",
    )
    max_upload_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1, description="Largest upload (all its files together), 200 MiB; every "
        "other request keeps the 1 MiB body limit.",
    )
    max_unzipped_bytes: int = Field(
        default=2 * 1024 * 1024 * 1024, ge=1, description="Largest a zip upload may expand to, 2 GiB (and no "
        "entry more than 200x its compressed size).",
    )
    trash_days: float = Field(
        default=7.0, gt=0, description="Days a removed (or replaced) file, doc, version or product stays in "
        "<data>/trash, restorable, before it is emptied.",
    )

    @field_validator("embed_device")
    @classmethod
    def _device_present(cls, value: str) -> str:
        if value == "cuda":  # fail at start, with the reason, not at the first embedding
            from indexing.devices import DeviceUnavailable, resolve_device

            try:
                resolve_device(value)
            except DeviceUnavailable as exc:
                raise ValueError(str(exc)) from exc
        return value

    @field_validator("embed_model")
    @classmethod
    def _model_present(cls, value: str) -> str:
        """Found (not loaded) at start: a model that is not on this machine stops the program, with why."""
        from indexing.embedding_model import resolve_model

        resolve_model(value)  # ModelNotFound is a ValueError: pydantic reports it under the setting's name
        return value

    @model_validator(mode="after")
    def _backend_fits_model(self) -> Settings:
        from indexing.embedding_model import resolve_model

        if self.embed_backend == "onnx-int8" and resolve_model(self.embed_model).kind != "packaged":
            raise ValueError("MCDEWEY_EMBED_BACKEND=onnx-int8 applies to the packaged all-MiniLM-L6-v2 only; "
                             f"{self.embed_model} runs on PyTorch (set the backend to onnx or torch)")
        return self

    @field_validator("openai_base_url")
    @classmethod
    def _base_url_form(cls, value: str) -> str:
        from assistant.openai_chat import check_base_url

        return check_base_url(value)

    @field_validator("rerank")
    @classmethod
    def _cross_encoder_usable(cls, value: str | None) -> str | None:
        value = (value or "").strip() or None
        if value is not None:  # fail at start, with the reason (its config alone: no torch), not at a search
            from indexing.ranking.cross_encoder import check_cross_encoder

            check_cross_encoder(value)
        return value

    @field_validator("llm", mode="before")
    @classmethod
    def _parse_llm(cls, value: Any) -> Any:
        return LLMSettings.parse(value) if isinstance(value, str) else value

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"
