"""All of McDewey's settings, read once from `MCDEWEY_*` environment variables and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOME = Path.home() / ".local" / "share" / "mcdewey"


class Settings(BaseSettings):
    """Documented defaults; every field can be set as `MCDEWEY_<NAME>` (e.g. `MCDEWEY_LIBRARY`)."""

    model_config = SettingsConfigDict(env_prefix="MCDEWEY_", extra="forbid")

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
    embed_backend: Literal["onnx", "torch", "onnx-int8"] = Field(
        default="onnx",
        description="Embedding runtime: 'onnx' (ONNX Runtime, fp32, same vectors as torch, 1.6-1.8x faster), "
        "'torch' (sentence-transformers), 'onnx-int8' (2.5x faster, other vectors: switching re-embeds the library).",
    )
    embed_threads: int = Field(default=0, ge=0, description="Threads for embedding (0: all cores).")
    embed_batch: int = Field(default=32, ge=1, description="Embedding batch size.")
    top_k: int = Field(default=8, ge=1, le=50, description="Default number of chunks a search returns.")
    max_top_k: int = Field(default=50, description="Largest top_k a caller may ask for.")
    llm: str = Field(
        default="embedded",
        description="'embedded' (in-process llama.cpp, no server), 'ollama:<model>' or 'none' "
        "(retrieval-only answers).",
    )
    llm_threads: int = Field(default=1, ge=1, description="llama.cpp threads for the embedded model.")
    llm_timeout: float = Field(default=120.0, description="Seconds before an answer is cut off.")
    host: str = Field(default="127.0.0.1", description="Address the server binds to.")
    port: int = Field(default=8000, description="Port the server listens on.")
    public_url: str | None = Field(
        default=None, description="Base URL used in links handed to agents (default: http://host:port)."
    )
    chat: bool = Field(default=True, description="Mount the Chainlit chat at /chat.")
    api_token: str | None = Field(
        default=None, description="When set, /mcp and /api/* need 'Authorization: Bearer <token>', and the "
        "chat (/chat) asks for a login with the token as password."
    )

    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"
