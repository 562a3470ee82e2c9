"""A small demo org in an SQLite store shared by the ML, risk and forecast tests (built once
per session; registered as a plugin in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest

from dealcast.crm.demo import generate_demo_org
from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store

TODAY = date(2026, 6, 30)
AS_OF = datetime(2026, 6, 30, 23, 59, 59)


@dataclass
class DemoOrg:
    store: Store
    folder: Path
    as_of: datetime


@pytest.fixture(scope="session")
def demo_org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoOrg]:
    root = tmp_path_factory.mktemp("demo-org")
    folder = root / "export"
    generate_demo_org(folder, seed=11, scale=0.3, today=TODAY)
    store = Store.open(f"sqlite:///{root / 'demo.db'}")
    import_export(store, folder, actor="test", as_of=AS_OF)
    yield DemoOrg(store, folder, AS_OF)
    store.close()


def copy_store(store: Store, target: Path) -> Store:
    """An independent copy of an SQLite store (the backup API copies a consistent state)."""
    import sqlite3

    source = sqlite3.connect(str(store.engine.url.database))
    dest = sqlite3.connect(str(target))
    source.backup(dest)
    source.close()
    dest.close()
    return Store.open(f"sqlite:///{target}")
