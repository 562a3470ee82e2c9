"""After an ingest or a sync, an existing index catches up with only what changed; a store
without an index is left alone (a first build is an explicit `dealcast index`)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from dealcast.config import get_settings
from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from dealcast.rag import index as rag_index
from dealcast.rag.retriever import SearchFilter, open_retriever
from dealcast.refresh import update_search_index
from tests.rag.org import AS_OF, NEEDLE_EMAIL, tiny_store


@pytest.fixture
def chroma_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "chroma"
    monkeypatch.setenv("DEALCAST_CHROMA_PATH", str(folder))
    monkeypatch.delenv("DEALCAST_CHROMA_HOST", raising=False)
    get_settings.cache_clear()
    yield folder
    get_settings.cache_clear()


def _rewrite_needle(folder: Path, text: str) -> None:
    path = folder / "EmailMessage.csv"
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        if row["Id"] == NEEDLE_EMAIL:
            row["TextBody"] = text
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_no_index_no_build(tmp_path: Path, chroma_dir: Path) -> None:
    store: Store = tiny_store(tmp_path)
    try:
        assert rag_index.refresh_index(store) is None
        assert update_search_index(store) is None
        assert not chroma_dir.exists()  # nothing created behind the user's back
    finally:
        store.close()


def test_existing_index_embeds_only_the_changed_email(tmp_path: Path, chroma_dir: Path) -> None:
    store: Store = tiny_store(tmp_path)
    try:
        first = rag_index.update_index(store)  # the explicit first build
        assert first.added > 0 and rag_index.index_exists(store)
        _rewrite_needle(tmp_path / "export", "Hi Rob,\n\nQuokkaware quoted 12% below you.\n\nDana")
        import_export(store, tmp_path / "export", actor="test", as_of=AS_OF)
        report = update_search_index(store)
        assert report is not None and "error" not in report
        assert report["changed"] == 1 and report["added"] == 0 and report["embedded"] == 1
        found = open_retriever(store, update=False).search(
            "Quokkaware", SearchFilter(until=AS_OF), k=3
        )
        assert found and found[0].activity_id == NEEDLE_EMAIL
        again = update_search_index(store)
        assert again is not None and again["embedded"] == 0
    finally:
        store.close()


def test_a_failing_update_is_reported_not_raised(
    tmp_path: Path, chroma_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(store: Store) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(rag_index, "refresh_index", broken)
    store: Store = tiny_store(tmp_path)
    try:
        assert update_search_index(store) == {"error": "RuntimeError: disk full"}
    finally:
        store.close()
