"""The embedder the settings describe: one home for how `MCDEWEY_EMBED_*` reach `indexing.embedder`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from assistant.settings import Settings
    from indexing.embedder import Embedder


def embedder_for(settings: Settings) -> Embedder:
    """The configured model on the configured runtime and device (loaded on first use)."""
    from indexing.embedder import Embedder

    return Embedder(settings.embed_threads, settings.embed_batch, settings.embed_backend, settings.model_cache,
                    settings.embed_device, settings.embed_model, settings.embed_query_prompt,
                    settings.embed_document_prompt, settings.ollama_host)
