"""The scheduled sync (`dealcast.sync_schedule`) against the loopback emulator, with an
injected clock: increments every interval, the daily full reconciliation, failures audited
and retried at the next tick, one sync at a time (the `sync_lock` lease), and the thread
inside `dealcast serve` starting and stopping with the server."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from dealcast.config import Settings
from dealcast.crm import sync_lock
from dealcast.crm.salesforce_sync_http import RetryPolicy
from dealcast.crm.schema import salesforce_sync_state
from dealcast.crm.sfdc_emulator import Emulator, Faults
from dealcast.crm.store import Store
from dealcast.server import create_app
from dealcast.sync_schedule import SyncScheduler
from tests.integration.sfdc_fixtures import (
    emu,
    emulator,
    fast_policy,
    open_store,
    set_sfdc_env,
    settings,
    sfdc_export,
    synced_base,
    synced_copy,
)

__all__ = ["emu", "sfdc_export", "synced_base"]  # fixtures


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def _scheduler(
    store: Store, emu: Emulator, clock: Clock, full_at: time | None = None, **sfdc: Any
) -> SyncScheduler:
    cfg = Settings(  # type: ignore[call-arg]
        _env_file=None, sync_every_minutes=60, sync_full_at=full_at, sync_refresh=False
    )
    return SyncScheduler(store, cfg, settings(emu, **sfdc), policy=fast_policy(), clock=clock)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _state(store: Store) -> dict[str, tuple[Any, ...]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(salesforce_sync_state)).all()
    return {r.object: (r.watermark, r.mode) for r in rows}


def test_increments_every_interval_with_refresh(
    emu: Emulator, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "s.db")
    clock = Clock(_now())
    sched = _scheduler(store, emu, clock)
    assert sched.due(clock.at) is None  # the base store synced moments ago
    emu.mutate(new_deals=2, stage_changes=2)
    clock.at += timedelta(minutes=60)
    sched.settings = sched.settings.model_copy(update={"sync_refresh": True})
    result = sched.tick()
    assert result is not None and result.outcome == "ok", result and result.error
    assert result.mode == "incremental" and result.report is not None
    assert {o["mode"] for o in result.report["objects"]} == {"incremental"}
    assert result.report["objects"][3]["records"] >= 2  # the new deals and moves
    assert result.refresh is not None  # rescore + forecast ran
    assert sched.tick() is None  # nothing due until the next interval
    assert sched.due(clock.at + timedelta(minutes=50)) is None
    assert sched.due(clock.at + timedelta(minutes=59)) == "incremental"  # a little early


def test_daily_full_reconciliation_at_the_configured_time(
    emu: Emulator, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "f.db")
    day = _now().date()
    clock = Clock(datetime.combine(day, time(2, 59)))
    sched = _scheduler(store, emu, clock, full_at=time(3, 0))
    assert sched.due(clock.at) != "full"  # no full at startup
    clock.at = datetime.combine(day, time(3, 1))
    assert sched.due(clock.at) == "full"
    result = sched.tick()
    assert result is not None and result.outcome == "ok" and result.mode == "full"
    assert {mode for _, mode in _state(store).values()} == {"full"}
    assert sched.due(clock.at + timedelta(hours=23)) != "full"
    assert sched.due(clock.at + timedelta(hours=24)) == "full"  # the next day


def test_failed_sync_is_audited_and_retried_at_the_next_tick(
    emu: Emulator, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "x.db")
    before = _state(store)
    clock = Clock(_now() + timedelta(hours=2))
    sched = _scheduler(store, emu, clock, password="wrong")
    result = sched.tick()
    assert result is not None and result.outcome == "failed"
    assert result.error and "wrong" not in result.error  # secrets are never logged
    failed = store.audit_entries(action="salesforce_sync_failed")
    assert failed and "wrong" not in str(failed[0].outputs)
    assert _state(store) == before  # nothing changed
    assert sched.due(clock.at + timedelta(minutes=5)) is None  # not hammering Salesforce
    clock.at += timedelta(minutes=60)
    sched.sfdc = settings(emu)  # Salesforce is back
    again = sched.tick()
    assert again is not None and again.outcome == "ok"
    assert _state(store) != before


def test_a_held_lock_skips_the_tick(emu: Emulator, synced_base: Path, tmp_path: Path) -> None:
    store = synced_copy(synced_base, tmp_path / "l.db")
    clock = Clock(_now() + timedelta(hours=2))
    sched = _scheduler(store, emu, clock)
    with sync_lock.held(store, "cli"):
        result = sched.tick()
        assert result is not None and result.outcome == "locked"
        with (
            pytest.raises(sync_lock.SyncLocked, match="already running"),
            sync_lock.held(store, "other"),
        ):
            pass
    assert sync_lock.current_holder(store) is None  # released
    assert sched.tick() is not None and sched.last is not None and sched.last.outcome == "ok"


def test_lock_lease_expiry_and_dead_holders(tmp_path: Path) -> None:
    store = open_store(tmp_path / "lock.db")
    name = "job"
    assert sync_lock.acquire(store, name, "a", lease_seconds=60)
    assert not sync_lock.acquire(store, name, "b", lease_seconds=60)
    assert sync_lock.renew(store, name, "a", 60) and not sync_lock.renew(store, name, "b", 60)
    sync_lock.release(store, name, "a")
    assert sync_lock.acquire(store, name, "b", lease_seconds=-1)  # already expired
    assert sync_lock.acquire(store, name, "c", lease_seconds=60)  # taken over
    sync_lock.release(store, name, "c")
    # a holder on this host whose process is gone is taken over at once
    dead = _dead_pid()
    assert sync_lock.acquire(store, name, f"{socket.gethostname()}:{dead}:x:cli", 600)
    assert sync_lock.acquire(store, name, f"{socket.gethostname()}:{os.getpid()}:y:cli", 600)
    assert not sync_lock.acquire(store, name, "z", 600)  # a live holder keeps it


def _dead_pid() -> int:
    pid = 2**22 - 1
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid -= 1


def test_stop_ends_a_sync_waiting_in_backoff(
    sfdc_export: Path, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "b.db")
    failing = emulator(sfdc_export, Faults(error_rate=1.0))  # every API call is a 5xx
    try:
        cfg = Settings(_env_file=None, sync_every_minutes=60, sync_full_at=None)  # type: ignore[call-arg]
        slow = RetryPolicy(base_delay=600.0, max_delay=600.0)  # backoff of minutes
        clock = Clock(_now() + timedelta(hours=2))
        sched = SyncScheduler(
            store, cfg, settings(failing), policy=slow, clock=clock, poll_seconds=0.01
        ).start()
        waited = threading.Event()
        for _ in range(400):  # until the sync has made a call (then it is backing off)
            if any(p.startswith("/services/data") for _, p, _ in failing.requests):
                break
            waited.wait(0.05)
        assert sched.stop(timeout=10)  # the backoff sleep ended at once
        assert sched.last is not None and sched.last.error == "stopped at shutdown"
        assert not store.audit_entries(action="salesforce_sync_failed")  # nothing failed
    finally:
        failing.stop()


@pytest.fixture
def sfdc_env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    set_sfdc_env(emu, monkeypatch)
    yield emu


def test_serve_runs_the_schedule_in_the_background(sfdc_env: Emulator, tmp_path: Path) -> None:
    store = open_store(tmp_path / "serve.db")  # never synced: the first tick syncs in full
    cfg = Settings(  # type: ignore[call-arg]
        _env_file=None, data_dir=tmp_path, sync_refresh=False, freshness_cache_s=0
    )
    app = create_app(cfg, store=store, api_keys={}, chat=False)
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200  # served while the sync runs
        done = threading.Event()
        for _ in range(600):  # the first sync commits (a bounded wait, not a timing)
            if _state(store) or done.wait(0.05):
                break
        assert set(m for _, m in _state(store).values()) == {"full"}
        ready = client.get("/readyz")
        assert ready.headers["X-Data-Source"] == "salesforce"
        assert ready.headers["X-Data-Stale"] == "false"
        threads = [t.name for t in threading.enumerate()]
        assert "sfdc-sync-schedule" in threads
    # stopped with the server
    assert "sfdc-sync-schedule" not in [t.name for t in threading.enumerate()]
    store.close()
