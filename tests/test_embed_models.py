"""Bring your own embedding model: a real second model, switched safely, never mixed with the first.

No other embedding model ships its weights here, so the second model is built from the packaged
MiniLM (`assistant.measure.standin_embedder`): the same network with a fixed projection to 256
numbers and query/document prompts in its config — other vectors, another dimension, prompts that
change them. Everything runs for real: sentence-transformers loads the folder, Chroma (embedded and a
`chroma run` server) holds the collections, `mcdewey` runs as the user runs it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from chroma_server import ChromaServer
from library_factory import build_library
from serve_process import Tally, ingest, ingest_args, rest_search, served
from serve_process import env as serve_env

from assistant.measure.standin_embedder import STANDIN_DIMENSIONS, STANDIN_PROMPTS, build_standin_embedder
from indexing.embedder import Embedder
from indexing.embedding_model import MODEL_NAME, ModelSource
from indexing.embedding_spec import model_prompts
from indexing.index import Index, ModelMismatch
from indexing.ingest import Ingester
from indexing.retriever import Retriever
from indexing.store import StoreUnavailable

MCDEWEY = str(Path(sys.executable).with_name("mcdewey"))


@pytest.fixture(scope="session")
def standin(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_standin_embedder(tmp_path_factory.mktemp("models") / "standin-256")


@pytest.fixture(scope="session")
def standin_embedder(standin: Path) -> Embedder:
    return Embedder(model=str(standin))


def _env(home: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCDEWEY_")}
    env.update(HOME=str(home), **{f"MCDEWEY_{k.upper()}": v for k, v in settings.items()})
    return env


def _collections(index: Index) -> dict[str, int]:
    client = index.store.client
    return {c.name: c.count() for c in client.list_collections()}


def test_a_model_folder_is_embedded_as_it_asks(standin: Path, standin_embedder: Embedder) -> None:
    spec = standin_embedder.spec
    assert (spec.dimensions, spec.kind, spec.name) == (STANDIN_DIMENSIONS, "sentence-transformers", str(standin))
    assert (spec.query_prompt, spec.document_prompt) == (STANDIN_PROMPTS["query"], STANDIN_PROMPTS["document"])
    text = "max_wal_senders sets how many standby servers may stream at once"
    passage, question = standin_embedder.encode([text])[0], standin_embedder.encode_query(text)
    assert passage.shape == (STANDIN_DIMENSIONS,)
    assert np.isclose(np.linalg.norm(passage), 1.0, atol=1e-4) and np.isclose(np.linalg.norm(question), 1.0, atol=1e-4)
    plain = Embedder(model=str(standin), query_prompt="", document_prompt="")
    assert np.allclose(plain.encode([text])[0], plain.encode_query(text), atol=1e-5)
    # Each side carries its own prompt: the question and the passage are embedded differently.
    assert np.allclose(question, plain.encode(["query: " + text])[0], atol=1e-5)
    assert np.allclose(passage, plain.encode(["passage: " + text])[0], atol=1e-5)
    assert not np.allclose(passage, question, atol=1e-2)
    assert plain.spec.identity != spec.identity  # other prompts, other vectors: another index
    # The chunk budget follows the model's limit and leaves room for its document prompt.
    assert standin_embedder.chunk_tokens == spec.chunk_tokens - standin_embedder.count_tokens(["passage: "])[0] < 220
    # A family that asks for prompts without naming them in its folder gets its model card's.
    assert model_prompts(ModelSource("intfloat/e5-small-v2", "sentence-transformers"), None, None) == (
        "query: ", "passage: ")
    assert Embedder().spec.is_default and Embedder().chunk_tokens == 220


@pytest.mark.parametrize(("settings", "named", "reason"), [
    ({"embed_model": "/no/such/model"}, "MCDEWEY_EMBED_MODEL", "no model folder at /no/such/model"),
    ({"embed_model": "acme/embedder-that-is-not-cached"}, "MCDEWEY_EMBED_MODEL", "HF_HUB_OFFLINE=0"),
    ({"embed_model": "ollama:"}, "MCDEWEY_EMBED_MODEL", "needs a model name"),
    ({"embed_model": "{tmp}"}, "MCDEWEY_EMBED_MODEL", "is not a sentence-transformers model"),
    ({"embed_model": "{standin}", "embed_backend": "onnx-int8"}, "MCDEWEY_EMBED_BACKEND", "packaged"),
])
def test_a_bad_model_setting_stops_the_program_with_its_name(
    tmp_path: Path, standin: Path, settings: dict[str, str], named: str, reason: str,
) -> None:
    values = {k: v.format(tmp=tmp_path, standin=standin) for k, v in settings.items()}
    for command in (["search", "anything"], ["serve", "--port", "0"]):
        run = subprocess.run([MCDEWEY, *command, "--data", str(tmp_path / "data")], env=_env(tmp_path, **values),
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 2, run.stderr
        assert named in run.stderr and reason in run.stderr, run.stderr
        assert "Traceback" not in run.stderr


@pytest.fixture
def chroma_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str | None]:
    if request.param == "embedded":
        yield None
        return
    server = ChromaServer(tmp_path / "chroma-server")
    server.start()
    yield server.url
    server.stop()


@pytest.mark.parametrize("chroma_url", ["embedded", "server"], indirect=True)
def test_switching_models_builds_new_vectors_beside_the_old_and_drops_them(
    tmp_path: Path, standin: Path, standin_embedder: Embedder, embedder: Embedder, chroma_url: str | None,
) -> None:
    library = build_library(tmp_path / "library")
    data = tmp_path / "data"
    first = Ingester(Index(data, chroma_url, embedder=embedder)).run(library)
    served = Index(data, chroma_url, embedder=embedder)  # a server configured with the packaged model
    before = [c.chunk_id for c in Retriever(served).search("how long before the web console times out", 5)]

    switch = Ingester(Index(data, chroma_url, embedder=standin_embedder)).run(library)
    assert switch.model_switch == f"{MODEL_NAME} (384-d) → {standin_embedder.spec.label}"
    assert switch.chunks_embedded == switch.chunks_total == first.chunks_total
    index = Index(data, chroma_url, embedder=standin_embedder)
    name, spec = index.active()
    assert spec == standin_embedder.spec and name == f"mcdewey-{spec.key}"
    assert _collections(index) == {name: first.chunks_total}  # the old model's collection is gone
    vectors = index.store.vectors(index.catalog.chunk_ids())
    assert len(vectors) == first.chunks_total and {v.shape for v in vectors.values()} == {(STANDIN_DIMENSIONS,)}

    # The server configured with the packaged model follows: the question is embedded by the model of
    # the vectors it is compared with, and it still finds the answer.
    with served.reading():
        assert served.query_embedder().spec == standin_embedder.spec
        after = [c.chunk_id for c in Retriever(served).search("how long before the web console times out", 5)]
    assert before[0] in after[:3]

    # Back to the packaged model: its own collection again, the switch's collection gone.
    back = Ingester(Index(data, chroma_url, embedder=embedder)).run(library)
    assert back.model_switch.endswith(f"→ {MODEL_NAME} (384-d)")
    index = Index(data, chroma_url, embedder=embedder)
    assert index.active() == ("mcdewey", embedder.spec) and _collections(index) == {"mcdewey": first.chunks_total}
    assert [c.chunk_id for c in Retriever(index).search("how long before the web console times out", 5)] == before


def test_a_search_is_refused_when_the_index_model_cannot_embed_the_question(
    tmp_path: Path, standin: Path, embedder: Embedder,
) -> None:
    model = shutil.copytree(standin, tmp_path / "model")
    library = build_library(tmp_path / "library")
    data = tmp_path / "data"
    Ingester(Index(data, embedder=Embedder(model=str(model)))).run(library)
    shutil.rmtree(model)  # the model that wrote the vectors is gone from this machine
    index = Index(data, embedder=embedder)
    with pytest.raises(ModelMismatch, match=r"holds vectors of .*model \(256-d\).*run `mcdewey ingest`"), \
            index.reading():
        Retriever(index).search("web console timeout", 3)
    run = subprocess.run([MCDEWEY, "search", "web console timeout", "--data", str(data)], env=_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "cannot embed a question with that model" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""  # nothing compared with another model's vectors


def _meta(data: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{data / 'catalog.sqlite3'}?mode=ro", uri=True, timeout=5) as conn:
        return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def test_an_interrupted_switch_leaves_the_old_index_serving(tmp_path: Path, standin: Path) -> None:
    library = build_library(tmp_path / "library")
    data = tmp_path / "data"
    env = _env(tmp_path)
    args = [MCDEWEY, "ingest", "--library", str(library), "--data", str(data)]
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
    served_before = _meta(data)
    search = [MCDEWEY, "search", "web console timeout", "--data", str(data), "--json"]
    answer = json.loads(subprocess.run(search, env=env, check=True, capture_output=True, timeout=120).stdout)

    # Killed once its first vectors are in the new collection, before the one publish at its end.
    switching = _env(tmp_path, embed_model=str(standin), ingest_batch="2", embed_batch="1")
    proc = subprocess.Popen([*args, "--json"], env=switching, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stderr is not None
    for line in proc.stderr:
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("stage") == "embedding" and event.get("chunks_done", 0) >= 4:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    meta = _meta(data)
    assert meta["switching_to"].startswith("mcdewey-")  # it had begun
    assert {k: meta.get(k) for k in ("embedding_model", "collection", "generation")} == {
        k: served_before.get(k) for k in ("embedding_model", "collection", "generation")}
    assert json.loads(subprocess.run(search, env=env, check=True, capture_output=True, timeout=120).stdout) == answer

    # Set back to the packaged model, the next ingest deletes the half-built collection.
    subprocess.run(args, env=env, check=True, capture_output=True, timeout=300)
    index = Index(data, embedder=Embedder())
    assert _collections(index) == {"mcdewey": index.catalog.count()} and not _meta(data)["switching_to"]
    index.close()

    # Run the switch again and it completes.
    done = subprocess.run(args, env=_env(tmp_path, embed_model=str(standin)), capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and "embedding model switched" in done.stdout, done.stderr
    assert json.loads(_meta(data)["embedding_model"])["dimensions"] == STANDIN_DIMENSIONS
    index = Index(data, embedder=Embedder(model=str(standin)))
    assert _collections(index) == {index.active()[0]: index.catalog.count()}


@pytest.mark.slow
def test_a_live_server_keeps_answering_while_the_library_switches_models(tmp_path: Path, standin: Path) -> None:
    """`mcdewey serve` (configured with the packaged model) answers every search while a second process
    switches the library to the stand-in model; afterwards it searches the new vectors with their model."""
    library, data, home = build_library(tmp_path / "library"), tmp_path / "data", tmp_path / "home"
    ingest(library, data, home)
    queries = ("how long before the web console times out", "back up the configuration before upgrading",
               "messages the transfer agent could not deliver")
    tally, during = Tally(), []

    async def switch_while_searching(url: str) -> None:
        stop = asyncio.Event()

        async def searching() -> None:
            async with httpx.AsyncClient(timeout=60) as http:
                while not stop.is_set():
                    for query in queries:
                        hits = await rest_search(http, url, query, tally)
                        during.append(bool(hits))

        task = asyncio.create_task(searching())
        proc = await asyncio.create_subprocess_exec(
            *ingest_args(library, data), env=serve_env(home, embed_model=str(standin)),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        out, err = await proc.communicate()
        stop.set()
        await task
        assert proc.returncode == 0 and b"embedding model switched" in out, err.decode()[-2000:]

    with served(library, data, home) as url:
        asyncio.run(switch_while_searching(url))
        assert tally.count() == 0, tally.summary()
        assert len(during) >= 6 and all(during)
        health = httpx.get(f"{url}/healthz", timeout=30).json()
        assert health["status"] == "ok" and health["embedding_model"].endswith(f"({STANDIN_DIMENSIONS}-d)")
        hits = httpx.get(f"{url}/api/search", params={"q": queries[0], "top_k": 3}, timeout=60).json()
        assert hits and "times out after" in hits[0]["text"]
    index = Index(data, embedder=Embedder(model=str(standin)))
    vectors = index.store.vectors(index.catalog.chunk_ids())
    assert _collections(index) == {index.active()[0]: index.catalog.count()}
    assert {v.shape for v in vectors.values()} == {(STANDIN_DIMENSIONS,)}


def test_an_ollama_embedding_model_indexes_and_searches(tmp_path: Path, embedder: Embedder) -> None:
    """`ollama:<model>` through the official `ollama` client, against the test adapter's `/api/embed`
    (Ollama's protocol in front of the packaged MiniLM: no Ollama server can be installed here)."""
    from ollama_adapter import serve as ollama_serve

    library = build_library(tmp_path / "library")
    with ollama_serve(None, model="minilm-embed", embedder=embedder) as host:
        ollama = Embedder(model="ollama:minilm-embed", ollama_host=host)
        assert ollama.spec.dimensions == 384 and ollama.spec.kind == "ollama"
        assert np.allclose(ollama.encode_query("web console"), embedder.encode_query("web console"), atol=1e-5)
        report = Ingester(Index(tmp_path / "data", embedder=ollama)).run(library)
        index = Index(tmp_path / "data", embedder=ollama)
        assert index.active()[1] == ollama.spec and report.chunks_embedded == report.chunks_total
        hits = Retriever(index).search("how long before the web console times out", 3)
        assert "times out after" in hits[0].text
    # The server is gone (a process that starts now): refused with the reason, a 503 on every surface.
    index = Index(tmp_path / "data", embedder=Embedder(model="ollama:minilm-embed", ollama_host=host))
    with pytest.raises(StoreUnavailable, match=r"minilm-embed.*did not answer"):
        Retriever(index).search("web console", 3)
