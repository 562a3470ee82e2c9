"""Concurrent scoped scorings at the top of an hour read the org's frames once."""

from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dealcast.crm.store import Store
from dealcast.ml import org_context


def test_concurrent_misses_read_the_org_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'org.db'}")
    hour = datetime(2025, 6, 1, 10)
    reads: list[Any] = []
    real = Store.as_of
    threads = 6
    barrier = threading.Barrier(threads)

    def counting(self: Store, t: Any, ids: Any = None) -> Any:
        reads.append(t)
        return real(self, t, ids)

    monkeypatch.setattr(Store, "as_of", counting)
    monkeypatch.setattr(org_context, "_CACHE", type(org_context._CACHE)())
    out: list[org_context.OrgFrames] = []

    def work() -> None:
        barrier.wait()
        out.append(org_context._org_frames(store, hour))

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    store.close()
    assert reads == [hour]
    assert len(out) == threads and all(f is out[0] for f in out)
