"""Scoped risk loads share the org's contacts within the hour: read as of the first request
T1, reused for later requests of the hour, never for an earlier one, re-read after an import."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from dealcast.risk import context
from tests.crm.export_builder import minimal_export

T0 = datetime(2025, 6, 1, 10, 5)
T1 = datetime(2025, 6, 1, 10, 30)
T2 = datetime(2025, 6, 1, 10, 55)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    context.clear_org_cache()
    s = Store.open(f"sqlite:///{tmp_path / 'org.db'}")
    yield s
    s.close()
    context.clear_org_cache()


def _snap(as_of: datetime) -> SimpleNamespace:
    """A snapshot whose contacts frame says when it was read."""
    return SimpleNamespace(as_of=as_of, contacts=lambda: pd.DataFrame({"ReadAt": [as_of]}))


def _read_at(store: Store, as_of: datetime) -> datetime:
    frame = context._org_contacts(store, _snap(as_of))  # type: ignore[arg-type]
    return pd.Timestamp(frame["ReadAt"].iloc[0]).to_pydatetime()


def test_contacts_are_reused_later_in_the_hour_never_earlier(store: Store) -> None:
    assert _read_at(store, T1) == T1
    assert _read_at(store, T2) == T1  # reused: read before T2
    assert _read_at(store, T0) == T0  # the cached read is after T0: read afresh
    assert _read_at(store, T2) == T1  # ...without replacing the entry
    assert _read_at(store, datetime(2025, 6, 1, 11, 0)) == datetime(2025, 6, 1, 11, 0)


def test_an_import_means_a_fresh_read(store: Store, tmp_path: Path) -> None:
    assert _read_at(store, T1) == T1
    import_export(store, minimal_export(tmp_path / "export"), actor="test", as_of=T1)
    assert _read_at(store, T2) == T2
