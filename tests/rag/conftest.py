"""Fixtures: the tiny org (fresh per test when it is changed, shared when only read) and an
index of it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dealcast.crm.store import Store
from dealcast.rag.retriever import Retriever, open_retriever
from tests.rag.org import tiny_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = tiny_store(tmp_path)
    yield s
    s.close()


@pytest.fixture(scope="module")
def indexed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, Retriever]]:
    root = tmp_path_factory.mktemp("rag")
    s = tiny_store(root)
    yield s, open_retriever(s, path=root / "chroma")
    s.close()
