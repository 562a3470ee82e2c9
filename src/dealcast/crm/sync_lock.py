"""One sync at a time per store, across server processes and the CLI: a lease row in
`sync_lock` (SQLite and PostgreSQL alike; no advisory locks needed).

The holder renews the lease while it works (a heartbeat thread); a holder that dies stops
renewing and the lease runs out, and a dead holder on this same host is noticed at once
(its process id is gone), so a crashed sync never blocks the next one for long.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from dealcast.crm.schema import sync_lock
from dealcast.crm.store import Store

log = logging.getLogger(__name__)

SALESFORCE_SYNC = "salesforce_sync"
DEFAULT_LEASE_SECONDS = 300.0


class SyncLocked(RuntimeError):
    """Another sync holds the lock (a transient condition: try again later)."""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _holder(label: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{label}"[:200]


def _dead_here(holder: str) -> bool:
    """A holder on this host whose process is gone."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    try:
        os.kill(int(pid_text), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def acquire(store: Store, name: str, holder: str, lease_seconds: float) -> bool:
    """Take the lock if it is free, expired or held by a dead local process."""
    now = _now()
    expires = now + timedelta(seconds=lease_seconds)
    try:
        with store.engine.begin() as conn:
            row = conn.execute(select(sync_lock).where(sync_lock.c.name == name)).first()
            if row is None:
                conn.execute(
                    sync_lock.insert().values(
                        name=name, holder=holder, acquired_at=now, expires_at=expires
                    )
                )
                return True
            if row.expires_at > now and not _dead_here(row.holder):
                return False
            # compare-and-set on what we read: of two takers, one updates a row
            taken = conn.execute(
                update(sync_lock)
                .where(
                    sync_lock.c.name == name,
                    sync_lock.c.holder == row.holder,
                    sync_lock.c.expires_at == row.expires_at,
                )
                .values(holder=holder, acquired_at=now, expires_at=expires)
            )
            return taken.rowcount == 1
    except (IntegrityError, OperationalError) as exc:  # lost a race (insert, SQLite lock)
        log.debug("sync lock %s: lost the race (%s)", name, type(exc).__name__)
        return False


def renew(store: Store, name: str, holder: str, lease_seconds: float) -> bool:
    with store.engine.begin() as conn:
        result = conn.execute(
            update(sync_lock)
            .where(sync_lock.c.name == name, sync_lock.c.holder == holder)
            .values(expires_at=_now() + timedelta(seconds=lease_seconds))
        )
        return result.rowcount == 1


def release(store: Store, name: str, holder: str) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            delete(sync_lock).where(sync_lock.c.name == name, sync_lock.c.holder == holder)
        )


def current_holder(store: Store, name: str = SALESFORCE_SYNC) -> str | None:
    """Who holds an unexpired lease (None: free)."""
    with store.engine.connect() as conn:
        row = conn.execute(select(sync_lock).where(sync_lock.c.name == name)).first()
    return row.holder if row is not None and row.expires_at > _now() else None


@contextmanager
def held(
    store: Store,
    label: str,
    name: str = SALESFORCE_SYNC,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
) -> Iterator[str]:
    """Hold the lock for the block (renewed every third of the lease); `SyncLocked` when
    another holder has it."""
    holder = _holder(label)
    if not acquire(store, name, holder, lease_seconds):
        other = current_holder(store, name) or "another process"
        raise SyncLocked(f"a sync is already running ({other}); try again when it finishes")
    stop = threading.Event()

    def heartbeat() -> None:
        while not stop.wait(lease_seconds / 3):
            try:
                if not renew(store, name, holder, lease_seconds):
                    log.error("sync lock %s was taken over while held by %s", name, holder)
                    return
            except Exception:  # a database hiccup: the lease still has time left
                log.warning("sync lock %s: renewal failed", name, exc_info=True)

    beat = threading.Thread(target=heartbeat, name=f"sync-lock-{name}", daemon=True)
    beat.start()
    try:
        yield holder
    finally:
        stop.set()
        beat.join(timeout=5)
        release(store, name, holder)
