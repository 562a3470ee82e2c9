"""Shared plumbing for the tools: one open Store per database URL and the as-of instant.

Opening a Store migrates the schema, so it is done once per URL per process and reused by
every node (SQLAlchemy engines are thread-safe; tools run in worker threads).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

from dealcast.config import get_settings
from dealcast.crm.pit import as_of_instant
from dealcast.crm.store import Store
from dealcast.risk.context import clear_org_cache
from dealcast.tools.cache import clear_caches

T = TypeVar("T")
_LOCK = threading.Lock()
_STORES: dict[str, Store] = {}
_CACHE: dict[tuple[Any, ...], tuple[float, Any]] = {}
CACHE_TTL_S = 60.0  # read-only lookups (the deal directory) are reused this long


def database_url(url: str | None) -> str:
    return url or get_settings().resolved_database_url()


def get_store(url: str | None) -> Store:
    """The process-wide Store for `url` (default: the configured database)."""
    key = database_url(url)
    with _LOCK:
        store = _STORES.get(key)
        if store is None:
            store = _STORES[key] = Store.open(key)
        return store


def close_stores() -> None:
    """Dispose every engine opened here (tests, server shutdown)."""
    with _LOCK:
        for store in _STORES.values():
            store.close()
        _STORES.clear()
        _CACHE.clear()
    clear_caches()
    clear_org_cache()


def resolve_as_of(as_of: str | None) -> datetime:
    """The instant everything is computed at: `as_of` (a bare date = end of that day, UTC)
    or now."""
    if as_of is None or not str(as_of).strip():
        return datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    return as_of_instant(str(as_of).strip())


def cached(key: tuple[Any, ...], compute: Callable[[], T], ttl_s: float = CACHE_TTL_S) -> T:
    """`compute()` memoised for `ttl_s` seconds under `key` (read-only lookups only)."""
    now = time.monotonic()
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None and now - hit[0] < ttl_s:
            return hit[1]
    value = compute()
    with _LOCK:
        _CACHE[key] = (now, value)
    return value
