from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from dealcast.crm.schema import CRM_TABLES
from dealcast.crm.store import Store
from dealcast.rag import embeddings
from dealcast.rag.index import chroma_client, collection_name, open_collection, update_index
from dealcast.rag.retriever import Retriever, SearchFilter
from tests.rag.org import NEEDLE_EMAIL, O2, U1, sfid


@pytest.fixture
def embedded_texts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every text the index embeds (queries go through Chroma's embedding function, which
    uses the same embedder: tests read this list only around update_index)."""
    seen: list[str] = []
    original = embeddings.MiniLmEmbedder.embed

    def counting(self: embeddings.MiniLmEmbedder, texts: list[str]) -> Any:
        seen.extend(texts)
        return original(self, texts)

    monkeypatch.setattr(embeddings.MiniLmEmbedder, "embed", counting)
    return seen


def _sync_changes(store: Store) -> None:
    """What a sync might bring: one email edited, one task deleted, deal O2 reassigned to
    rep U1, one new email."""
    email, task, opp = (CRM_TABLES[n] for n in ("EmailMessage", "Task", "Opportunity"))
    with store.engine.begin() as conn:
        conn.execute(
            update(email)
            .where(email.c.Id == NEEDLE_EMAIL)
            .values(TextBody="Correction: the PO number is 5582-990.")
        )
        conn.execute(update(task).where(task.c.Id == sfid("00T", 1)).values(IsDeleted=True))
        conn.execute(update(opp).where(opp.c.Id == O2).values(OwnerId=U1))
        row = dict(conn.execute(select(email).where(email.c.Id == NEEDLE_EMAIL)).mappings().one())
        row.update(Id=sfid("02s", 95), TextBody="Quokkaflow renewal paperwork is attached.")
        conn.execute(insert(email).values(**row))


def test_update_embeds_only_new_or_changed_chunks(
    store: Store, tmp_path: Path, embedded_texts: list[str]
) -> None:
    col = open_collection(store, client=chroma_client(tmp_path / "chroma"))
    first = update_index(store, col)
    assert first.added == first.documents == first.embedded == len(embedded_texts) == 23
    assert col.count() == 23

    embedded_texts.clear()
    again = update_index(store, col)
    assert (again.embedded, again.removed, again.metadata_updated) == (0, 0, 0)
    assert again.unchanged == 23 and embedded_texts == []
    assert again.index_version == first.index_version

    retriever = Retriever(col)
    assert retriever.search("Quokkaflow", mode="lexical") == []  # builds the BM25 cache
    _sync_changes(store)
    report = update_index(store, col)
    assert (report.added, report.changed, report.removed) == (1, 1, 1)
    assert report.metadata_updated == 8  # O2's eight activities: new owner, same text
    assert report.embedded == len(embedded_texts) == 2
    assert report.index_version != first.index_version
    stored = col.get(where={"deal_id": O2}, include=["metadatas"])
    assert {m["owner_id"] for m in stored["metadatas"]} == {U1}
    assert col.get(ids=[f"{sfid('00T', 1)}#0"])["ids"] == []
    assert col.count() == 23
    # the BM25 side follows the new version: the new email is found, the old text is gone
    assert [p.activity_id for p in retriever.search("Quokkaflow", mode="lexical")] == [
        sfid("02s", 95)
    ]
    assert retriever.search("4471", mode="lexical") == []
    assert retriever.search("5582-990", SearchFilter(owner_ids=[U1]), mode="lexical")


def test_collection_reopens_in_a_fresh_process(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "chroma"
    update_index(store, path=path)
    script = textwrap.dedent(
        f"""
        import json, chromadb
        from chromadb.config import Settings
        import dealcast.rag.embeddings  # registers the embedding function
        client = chromadb.PersistentClient(
            path={str(path)!r}, settings=Settings(anonymized_telemetry=False))
        col = client.get_collection({collection_name(store)!r})  # no embedding function given
        res = col.query(query_texts=["PO number 4471-889"], n_results=1)
        ef = col.configuration["embedding_function"]  # rebuilt from the stored config
        print(json.dumps({{"ef": type(ef).__name__,
                          "top": res["ids"][0][0], "count": col.count()}}))
        """
    )
    env = {**os.environ, "DEALCAST_DATA_DIR": str(tmp_path / "unused")}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result == {"ef": "MiniLmEmbeddingFunction", "top": f"{NEEDLE_EMAIL}#0", "count": 23}


def test_index_path_comes_from_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dealcast.config import get_settings

    monkeypatch.setenv("DEALCAST_CHROMA_PATH", str(tmp_path / "from-env"))
    monkeypatch.delenv("DEALCAST_CHROMA_HOST", raising=False)
    get_settings.cache_clear()
    try:
        client = chroma_client()
    finally:
        get_settings.cache_clear()
    assert (tmp_path / "from-env" / "chroma.sqlite3").is_file()
    assert client.get_settings().anonymized_telemetry is False
