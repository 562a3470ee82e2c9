"""The keyed as-of cache: hits within the hour and data version, misses otherwise, never a
later as-of, one computation for concurrent misses."""

from __future__ import annotations

import threading
from datetime import datetime
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from dealcast.tools.cache import AsOfCache, clear_caches
from dealcast.tools.store import close_stores

T0 = datetime(2026, 6, 30, 10, 5)
T1 = datetime(2026, 6, 30, 10, 40)
NEXT_HOUR = datetime(2026, 6, 30, 11, 1)


class FakeStore:
    """What the cache reads of a Store: its URL and data version."""

    def __init__(self, url: str = "sqlite:///org.db") -> None:
        self.engine = SimpleNamespace(url=make_url(url))
        self.version = "v1"

    def data_version(self) -> str:
        return self.version


class Recorder:
    """A compute function that remembers the instants it was asked for."""

    def __init__(self) -> None:
        self.calls: list[datetime] = []

    def __call__(self, as_of: datetime) -> dict[str, Any]:
        self.calls.append(as_of)
        return {"as_of": as_of, "n": len(self.calls)}


def test_same_hour_same_version_is_a_hit_reporting_when_computed() -> None:
    cache: AsOfCache[dict[str, Any]] = AsOfCache("t", maxsize=4)
    store, compute = FakeStore(), Recorder()
    first = cache.get(store, T0, ("a",), compute)  # type: ignore[arg-type]
    again = cache.get(store, T1, ("a",), compute)  # type: ignore[arg-type]
    assert compute.calls == [T0]
    assert again is first and again["as_of"] == T0  # says what instant it describes
    assert (cache.hits, cache.misses) == (1, 1)


def test_other_arguments_database_or_data_version_miss() -> None:
    cache: AsOfCache[dict[str, Any]] = AsOfCache("t", maxsize=8)
    store, compute = FakeStore(), Recorder()
    cache.get(store, T0, ("a",), compute)  # type: ignore[arg-type]
    cache.get(store, T0, ("b",), compute)  # type: ignore[arg-type]
    cache.get(FakeStore("sqlite:///other.db"), T0, ("a",), compute)  # type: ignore[arg-type]
    store.version = "v2"  # an import or sync
    after = cache.get(store, T1, ("a",), compute)  # type: ignore[arg-type]
    assert len(compute.calls) == 4
    assert after["as_of"] == T1


def test_next_hour_misses() -> None:
    cache: AsOfCache[dict[str, Any]] = AsOfCache("t", maxsize=4)
    store, compute = FakeStore(), Recorder()
    cache.get(store, T1, (), compute)  # type: ignore[arg-type]
    out = cache.get(store, NEXT_HOUR, (), compute)  # type: ignore[arg-type]
    assert compute.calls == [T1, NEXT_HOUR] and out["as_of"] == NEXT_HOUR


def test_never_answers_an_earlier_instant_with_a_later_value() -> None:
    cache: AsOfCache[dict[str, Any]] = AsOfCache("t", maxsize=4)
    store, compute = FakeStore(), Recorder()
    cache.get(store, T1, (), compute)  # type: ignore[arg-type]
    early = cache.get(store, T0, (), compute)  # type: ignore[arg-type]
    assert early["as_of"] == T0
    later = cache.get(store, datetime(2026, 6, 30, 10, 50), (), compute)  # type: ignore[arg-type]
    assert later["as_of"] == T1  # the earlier request was not cached over the entry
    assert compute.calls == [T1, T0]


def test_concurrent_misses_compute_once() -> None:
    cache: AsOfCache[dict[str, Any]] = AsOfCache("t", maxsize=4)
    store, release, calls = FakeStore(), threading.Event(), []
    threads = 8

    def slow(as_of: datetime) -> dict[str, Any]:
        calls.append(as_of)
        release.wait()
        return {"as_of": as_of}

    results: list[dict[str, Any]] = []
    workers = [
        threading.Thread(target=lambda: results.append(cache.get(store, T1, (), slow)))  # type: ignore[arg-type]
        for _ in range(threads)
    ]
    for w in workers:
        w.start()
    while cache.hits + cache.misses < threads:  # every thread asked before the value exists
        threading.Event().wait(0.001)
    release.set()
    for w in workers:
        w.join()
    assert len(calls) == 1
    assert len(results) == threads and all(r is results[0] for r in results)


def test_a_failure_is_raised_to_waiters_and_not_cached() -> None:
    cache: AsOfCache[dict[str, Any]] = AsOfCache("t", maxsize=4)
    store, compute = FakeStore(), Recorder()

    def broken(as_of: datetime) -> dict[str, Any]:
        raise ValueError("no such deal")

    with pytest.raises(ValueError, match="no such deal"):
        cache.get(store, T0, (), broken)  # type: ignore[arg-type]
    assert cache.get(store, T0, (), compute)["as_of"] == T0  # type: ignore[arg-type]
    assert len(cache) == 1


def test_bounded_least_recently_used_first() -> None:
    cache: AsOfCache[dict[str, Any]] = AsOfCache("t", maxsize=2)
    store, compute = FakeStore(), Recorder()
    for key in ("a", "b", "a", "c"):  # "b" is the least recently used when "c" arrives
        cache.get(store, T0, key, compute)  # type: ignore[arg-type]
    assert len(cache) == 2
    cache.get(store, T0, "a", compute)  # type: ignore[arg-type]
    assert len(compute.calls) == 3
    cache.get(store, T0, "b", compute)  # type: ignore[arg-type]
    assert len(compute.calls) == 4


def test_copy_hands_out_independent_values() -> None:
    cache: AsOfCache[dict[str, Any]] = AsOfCache("t", maxsize=2, copy=dict)
    store, compute = FakeStore(), Recorder()
    first = cache.get(store, T0, (), compute)  # type: ignore[arg-type]
    first["n"] = 99
    assert cache.get(store, T1, (), compute)["n"] == 1  # type: ignore[arg-type]


def test_clear_caches_and_close_stores_empty_every_cache() -> None:
    cache: AsOfCache[dict[str, Any]] = AsOfCache("t", maxsize=2)
    store, compute = FakeStore(), Recorder()
    cache.get(store, T0, (), compute)  # type: ignore[arg-type]
    clear_caches()
    assert len(cache) == 0
    cache.get(store, T0, (), compute)  # type: ignore[arg-type]
    close_stores()
    assert len(cache) == 0


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(ValueError, match="maxsize"):
        AsOfCache("t", maxsize=0)
