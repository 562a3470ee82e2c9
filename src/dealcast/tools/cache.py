"""Per-process caches of what chat turns compute, keyed by (database, data version, as-of
hour, arguments).

Every turn used to re-read the org, rescore, re-detect risks and re-run the forecast, so a
question took seconds. Here a value computed as of T1 answers a later request at T only when:
- same database and same `Store.data_version()` (any import, sync, model or quota change is
  a miss; our own predictions and audit rows do not change it);
- same hour, and T1 <= T: never a value from a later instant than the request (no leakage),
  never one older than the start of the hour.
The cached value is the one computed as of T1 and says so (its `as_of`), so an answer always
reports the instant its numbers describe. A request for an earlier instant of the hour than
the cached one is computed afresh and not cached.

Bounded (LRU per cache) and thread-safe: tools run in worker threads, and concurrent misses
of one key compute once (the others wait for that result). Failures are not cached.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from dealcast.crm.store import Store

T = TypeVar("T")
_ALL: weakref.WeakSet[AsOfCache[Any]] = weakref.WeakSet()


def hour_of(as_of: datetime) -> datetime:
    return as_of.replace(minute=0, second=0, microsecond=0)


def store_key(store: Store) -> str:
    return store.engine.url.render_as_string(hide_password=True)


@dataclass
class _Slot(Generic[T]):
    as_of: datetime
    done: threading.Event = field(default_factory=threading.Event)
    value: T | None = None
    error: BaseException | None = None


class AsOfCache(Generic[T]):
    """`get(store, as_of, args, compute)` -> `compute(as_of)`, reused as described above."""

    def __init__(self, name: str, maxsize: int, copy: Callable[[T], T] | None = None) -> None:
        """`copy`: applied to every value handed out, for values a caller might modify
        (None: the value is shared and read-only by convention)."""
        if maxsize < 1:
            raise ValueError(f"maxsize must be >= 1, got {maxsize}")
        self.name, self.maxsize = name, maxsize
        self._copy: Callable[[T], T] = copy or (lambda value: value)
        self._lock = threading.Lock()
        self._slots: OrderedDict[tuple[Any, ...], _Slot[T]] = OrderedDict()
        self.hits = self.misses = 0  # for tests and benchmarks
        _ALL.add(self)

    def get(
        self, store: Store, as_of: datetime, args: Hashable, compute: Callable[[datetime], T]
    ) -> T:
        # the version is read before computing: the value is at least as new as its key
        key = (store_key(store), store.data_version(), hour_of(as_of), args)
        with self._lock:
            slot = self._slots.get(key)
            owner = slot is None
            if slot is None:
                slot = self._slots[key] = _Slot(as_of)
                while len(self._slots) > self.maxsize:
                    self._slots.popitem(last=False)
                self.misses += 1
            elif slot.as_of <= as_of:
                self._slots.move_to_end(key)
                self.hits += 1
            else:
                slot = None  # cached for a later instant of this hour: it cannot answer T
        if slot is None:
            return compute(as_of)
        if owner:
            return self._copy(self._fill(key, slot, compute))
        slot.done.wait()
        if slot.error is not None:
            raise slot.error
        return self._copy(slot.value)  # type: ignore[arg-type]

    def _fill(self, key: tuple[Any, ...], slot: _Slot[T], compute: Callable[[datetime], T]) -> T:
        try:
            slot.value = compute(slot.as_of)
            return slot.value
        except BaseException as exc:
            slot.error = exc
            with self._lock:  # not cached: the next request tries again
                if self._slots.get(key) is slot:
                    del self._slots[key]
            raise
        finally:
            slot.done.set()

    def clear(self) -> None:
        with self._lock:
            self._slots.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._slots)


def clear_caches() -> None:
    """Empty every cache (tests, server shutdown; `tools.store.close_stores` calls it)."""
    for cache in list(_ALL):
        cache.clear()
