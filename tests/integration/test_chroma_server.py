"""The index on a Chroma server (`DEALCAST_CHROMA_HOST`/`_PORT` -> `chromadb.HttpClient`): a
real `chroma run` on a free loopback port with a temporary path, started from the venv's
chromadb (it runs offline: no model download, the embeddings are ours). Incremental
updates embed only changed chunks, filters hold, and nothing is written locally."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest

from dealcast.config import get_settings
from dealcast.crm.store import Store
from dealcast.rag.index import chroma_client, collection_name, index_exists, update_index
from dealcast.rag.retriever import SearchFilter, open_retriever
from dealcast.tools.evidence import search_evidence_impl
from tests.rag.org import AS_OF, BACKDATED_TASK, NEEDLE_EMAIL, O1, O2, U1, U2, sfid, tiny_store
from tests.rag.test_index import _sync_changes
from tests.rag.test_index import embedded_texts as embedded_texts  # the fixture

CHROMA = Path(sys.executable).with_name("chroma")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """`chroma run` as a subprocess; stopped (and its output shown on failure) afterwards."""
    if not CHROMA.exists():
        pytest.fail(f"{CHROMA} missing: chromadb's CLI is part of the venv")
    root = tmp_path_factory.mktemp("chroma-server")
    data, log = root / "data", root / "server.log"
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CHROMA_", "OTEL_"))} | {
        "ANONYMIZED_TELEMETRY": "False"
    }  # the Rust server has no product telemetry
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(CHROMA), "run", "--path", str(data), "--host", "127.0.0.1", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chroma server did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.1)
        yield port, data
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.fixture
def on_server(
    chroma_server: tuple[int, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Settings pointing at the server (get_settings is cached: cleared around the test);
    the local data dir must stay without an index."""
    port, _ = chroma_server
    monkeypatch.setenv("DEALCAST_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("DEALCAST_CHROMA_PORT", str(port))
    monkeypatch.setenv("DEALCAST_DATA_DIR", str(tmp_path / "local"))
    monkeypatch.delenv("DEALCAST_CHROMA_PATH", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "local"
    get_settings.cache_clear()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = tiny_store(tmp_path)
    yield s
    s.close()


def test_client_is_an_http_client_without_telemetry(on_server: Path) -> None:
    client = chroma_client()
    settings = client.get_settings()
    assert settings.chroma_api_impl == "chromadb.api.fastapi.FastAPI"  # HttpClient's
    assert settings.chroma_server_host == "127.0.0.1"
    assert int(settings.chroma_server_http_port) == get_settings().chroma_port
    assert settings.anonymized_telemetry is False
    assert client.heartbeat() > 0


def test_incremental_update_and_filtered_search_on_the_server(
    on_server: Path, chroma_server: tuple[int, Path], store: Store, embedded_texts: list[str]
) -> None:
    assert not index_exists(store)  # asked of the server: no collection yet
    first = update_index(store)
    assert first.added == first.documents == first.embedded == len(embedded_texts) == 23
    assert index_exists(store)
    col = chroma_client().get_collection(collection_name(store))
    assert col.count() == 23
    assert not on_server.exists()  # nothing local: the data lives on the server
    assert any(chroma_server[1].iterdir())

    embedded_texts.clear()
    again = update_index(store)
    assert (again.embedded, again.unchanged, embedded_texts) == (0, 23, [])
    assert again.index_version == first.index_version

    retriever = open_retriever(store, update=False)  # reads the server's collection
    assert [p.activity_id for p in retriever.search("Zyphrax PO 4471-889", k=3)][:1] == [
        NEEDLE_EMAIL
    ]
    _sync_changes(store)  # one email edited, one task deleted, O2 moved to U1, one new email
    embedded_texts.clear()  # (the query above was embedded too)
    report = update_index(store)
    assert (report.added, report.changed, report.removed, report.metadata_updated) == (1, 1, 1, 8)
    assert report.embedded == len(embedded_texts) == 2  # only the new and the edited text

    # the retriever follows the new index version on the server (dense and BM25 sides)
    assert [p.activity_id for p in retriever.search("Quokkaflow", mode="lexical")] == [
        sfid("02s", 95)
    ]
    assert retriever.search("4471-889", mode="lexical") == []
    broad = "security review pricing competitor comparison rival budget contract vendor"
    for mode in ("hybrid", "dense", "lexical"):
        o2 = retriever.search(broad, SearchFilter(deal_ids=[O2]), k=30, mode=mode)
        assert o2 and {p.deal_id for p in o2} == {O2}
        assert {p.owner_id for p in o2} == {U1}  # the reassignment reached the metadata
        assert retriever.search(broad, SearchFilter(owner_ids=[U2]), k=30, mode=mode) == []
        calls = retriever.search(broad, SearchFilter(deal_ids=[O1], kinds=["call"]), k=30)
        assert calls and {(p.deal_id, p.kind) for p in calls} == {(O1, "call")}
        early = retriever.search(
            "Dana hinted the budget may be cut", SearchFilter(until=datetime(2026, 4, 1)), mode=mode
        )
        assert BACKDATED_TASK not in {p.activity_id for p in early}  # logged 2026-04-20


def test_evidence_tool_uses_the_server_index(on_server: Path, store: Store) -> None:
    update_index(store)
    out = search_evidence_impl(
        store, AS_OF, "which deals mention Zyphrax?", user_id=None, role="admin"
    )
    assert out["indexed"] and out["searched"] and out["answer_source"] == "extractive"
    assert [q["activity_id"] for q in out["quotes"]] == [NEEDLE_EMAIL]
    assert not on_server.exists()
