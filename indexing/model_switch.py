"""Changing the embedding model of an index without ever mixing two models' vectors.

Takes an opened index whose configured embedder may differ from the model that wrote its vectors;
gives the three steps of an ingest that concern the model:

- `start_model`: an empty index records the configured model and its collection before the first
  vector is written;
- `begin_switch`: when the configured model is another than the served one (another model, other
  weights in its folder, other prompts or limit), the run builds every chunk's vector afresh in that
  model's own collection (`EmbeddingSpec.collection`) while readers keep searching the old one, and
  publishes once at its end (`Publisher.switch_to`). The collection's name goes into the catalog
  first (`SWITCH_KEY`), so a switch abandoned later, or killed, leaves nothing behind: a new switch
  starts that collection over, and a run that no longer switches deletes it;
- `end_switch`: after the run, the target is forgotten (and a stale one deleted).

Cost: a switch re-embeds the whole library with the new model (see README "Models"); the old
collection serves until the commit, then is deleted.
"""

from __future__ import annotations

import logging

from indexing.index import COLLECTION_KEY, EMBEDDING_KEY, Index
from indexing.publish import Publisher
from indexing.store import VectorStore

SWITCH_KEY = "switching_to"  # the collection an unfinished switch writes
SWITCHING_MODEL = "switching the embedding model: every chunk is embedded again, beside the served index"

log = logging.getLogger("mcdewey.ingest")


def start_model(index: Index) -> None:
    """Record the configured model for an index that has no chunks yet (its first run, or one emptied)."""
    spec = index.embedder.spec
    name = spec.collection(index.collection_name)
    served, _ = index.active()
    if served != name:
        index.switched(_store(index, name))
    index.catalog.set_meta(COLLECTION_KEY, name)
    index.catalog.set_meta(EMBEDDING_KEY, spec.to_json())


def begin_switch(index: Index, publisher: Publisher) -> bool:
    """Prepare a switch when the configured model is not the served one; True when the run switches."""
    current, served = index.active()
    wanted = index.embedder.spec
    if served is None or served.identity == wanted.identity:
        return False
    name = wanted.collection(index.collection_name)
    if name == current:  # (the default model's name, held by vectors of other weights or prompts)
        name = f"{index.collection_name}-{wanted.key}"
    target = _store(index, name)
    if target.count():  # a switch to this model that did not finish: start it over
        with index.writing():
            target.drop()
        target = _store(index, name)
    index.catalog.set_meta(SWITCH_KEY, name)
    log.info("switching the index from %s to %s (collection %s)", served.label, wanted.label, name)
    publisher.switch_to(target, wanted)
    return True


def end_switch(index: Index) -> bool:
    """Forget the switch's target once the run ended; delete it when it is not what is served (a
    switch abandoned: the model was set back before it finished). True when a switch finished."""
    target = index.catalog.get_meta(SWITCH_KEY)
    if not target:
        return False
    served, _ = index.active()
    if target != served:
        with index.writing():
            _store(index, target).drop()
    index.catalog.set_meta(SWITCH_KEY, "")
    return target == served


def _store(index: Index, name: str) -> VectorStore:
    return VectorStore(index.data_dir, index.chroma_url, name, timeout=index.chroma_timeout)
