from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dealcast.crm.store import Store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    """A fresh SQLite store (the embedded default)."""
    s = Store.open(f"sqlite:///{tmp_path / 'store.db'}")
    yield s
    s.close()
