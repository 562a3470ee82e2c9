"""The Salesforce sync scheduled inside `dealcast serve`: incremental every
`sync_every_minutes` (default 60), a full reconciliation daily at `sync_full_at` UTC
(default 03:00), each followed by `refresh_after_sync` (rescore + forecast).

- Runs in one background thread: requests never wait on it.
- One sync at a time per store, also against `dealcast ingest salesforce` and other server
  processes: the `crm.sync_lock` lease. A tick that finds the lock held skips.
- A failure is logged and audited (the sync audits its own; a failure to start or to
  refresh is `scheduled_sync_failed`) and retried at the next tick: an interval later.
- Stops at shutdown: backoff sleeps end at once, no new sync starts, and the thread is
  joined for `STOP_WAIT_S`; a sync still running then is abandoned to its transaction
  (nothing half-written is committed).
- Increments start early by the last sync's duration plus a minute (at most a quarter of
  the interval), so with the defaults the data never ages past the one-hour staleness
  limit while Salesforce is healthy.
- Full reconciliation = the sync's `full` mode: every object re-read by Bulk 2.0 and
  upserted by content hash, which repairs any drift an increment missed (deleted rows
  included, as queryAll returns them; records purged from the recycle bin more than 30
  days ago are not detected). The first full runs at the first `sync_full_at` after
  start; a store never synced gets a full sync at its first tick anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import func, select

from dealcast.api.freshness import EXTRAS_KEY, FreshnessMonitor
from dealcast.config import Settings
from dealcast.crm.salesforce_sync import SalesforceSync, SyncReport
from dealcast.crm.salesforce_sync_config import SalesforceSettings, salesforce_configured
from dealcast.crm.salesforce_sync_http import RetryPolicy
from dealcast.crm.schema import salesforce_sync_state
from dealcast.crm.store import Store
from dealcast.crm.sync_lock import SyncLocked, held

log = logging.getLogger(__name__)

ACTOR = "scheduler"
POLL_S = 30.0  # how often the thread looks at the clock
STOP_WAIT_S = 10.0
EARLY_SLACK = timedelta(minutes=1)


class SchedulerStopped(BaseException):
    """Raised inside a sync's backoff sleep when the server shuts down (a BaseException,
    so the sync rolls back without recording a failure: nothing failed)."""


@dataclass
class TickResult:
    mode: str  # incremental | full
    outcome: str  # ok | failed | locked
    started: datetime
    seconds: float
    error: str | None = None
    report: dict[str, Any] | None = None
    refresh: dict[str, Any] | None = None


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class SyncScheduler:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        sfdc: SalesforceSettings,
        *,
        policy: RetryPolicy | None = None,
        clock: Callable[[], datetime] = _now,
        poll_seconds: float = POLL_S,
        after_tick: Callable[[], Any] | None = None,
    ) -> None:
        if settings.sync_every_minutes <= 0:
            raise ValueError("sync_every_minutes must be > 0 for a scheduler (0 means off)")
        self.store, self.settings, self.sfdc = store, settings, sfdc
        self.interval = timedelta(minutes=settings.sync_every_minutes)
        self.clock, self.poll_seconds, self.after_tick = clock, poll_seconds, after_tick
        self._stop = threading.Event()
        self.policy = replace(policy or RetryPolicy(), sleep=self._sleep)
        self._thread: threading.Thread | None = None
        self.last_started: datetime | None = None
        self.last_seconds = 0.0
        self.last: TickResult | None = None
        self.retry_at: datetime | None = None  # after a failure: the next tick
        self.full_done_for = self._full_slot(clock())  # no full reconciliation at startup

    # ---- when ---------------------------------------------------------------------------
    def _full_slot(self, now: datetime) -> datetime | None:
        """The latest daily full-reconciliation instant at or before `now`."""
        at = self.settings.sync_full_at
        if at is None:
            return None
        slot = datetime.combine(now.date(), at.replace(tzinfo=None))
        return slot if slot <= now else slot - timedelta(days=1)

    def _last_sync(self) -> datetime | None:
        with self.store.engine.connect() as conn:
            value: datetime | None = conn.execute(
                select(func.max(salesforce_sync_state.c.synced_at))
            ).scalar()
        return value

    def due(self, now: datetime) -> str | None:
        """`full`, `incremental` or None (nothing due at `now`)."""
        if self.retry_at is not None and now < self.retry_at:
            return None
        slot = self._full_slot(now)
        if slot is not None and (self.full_done_for is None or slot > self.full_done_for):
            return "full"
        early = min(timedelta(seconds=self.last_seconds) + EARLY_SLACK, self.interval / 4)
        # a sync by anyone (the CLI, another process) counts, as does our own last attempt
        stamps = [s for s in (self._last_sync(), self.last_started) if s is not None]
        if not stamps or now >= max(stamps) + self.interval - early:
            return "incremental"
        return None

    # ---- what ---------------------------------------------------------------------------
    def tick(self) -> TickResult | None:
        """Run the sync that is due, if any (blocking); the next is due an interval later
        whatever the outcome."""
        now = self.clock()
        mode = self.due(now)
        if mode is None or self._stop.is_set():
            return None
        started = time.perf_counter()
        result = TickResult(mode, "ok", now, 0.0)
        try:
            with held(self.store, ACTOR):
                self.last_started = now
                report = self._sync(mode, now)
                result.report = report.as_dict()
                if self.settings.sync_refresh and not self._stop.is_set():
                    result.refresh = self._refresh(report, now)
            if mode == "full":
                self.full_done_for = self._full_slot(now)
            self.retry_at = None
        except SyncLocked as exc:
            result.outcome, result.error = "locked", str(exc)
            log.info("scheduled %s sync skipped: %s", mode, exc)
        except SchedulerStopped:
            result.outcome, result.error = "failed", "stopped at shutdown"
        except Exception as exc:
            result.outcome, result.error = "failed", f"{type(exc).__name__}: {exc}"
            self.retry_at = now + self.interval
            log.exception("scheduled %s sync failed; retrying at the next tick", mode)
        result.seconds = time.perf_counter() - started
        if result.outcome != "locked":
            self.last_seconds = result.seconds
        self.last = result
        if self.after_tick is not None:
            try:
                self.after_tick()
            except Exception:
                log.warning("after-sync check failed", exc_info=True)
        return result

    def _sync(self, mode: str, now: datetime) -> SyncReport:
        try:
            sync = SalesforceSync(self.store, self.sfdc, actor=ACTOR, policy=self.policy)
        except Exception as exc:  # bad settings or field map: the sync never started
            self._audit_failure("sync", exc, now)
            raise
        # the sync audits its own failures (salesforce_sync_failed)
        return sync.run("full" if mode == "full" else "auto", as_of=now)

    def _refresh(self, report: SyncReport, now: datetime) -> dict[str, Any]:
        from dealcast.refresh import (  # scoring and simulation: heavy
            refresh_after_sync,
            update_search_index,
        )

        try:
            out = refresh_after_sync(
                self.store,
                report,
                as_of=now,
                actor=ACTOR,
                fiscal_start_month=self.settings.fiscal_start_month,
            )
        except Exception as exc:
            self._audit_failure("refresh", exc, now)
            raise
        # after the forecast: fresh numbers first, then the searchable text catches up
        return {**out, "search_index": update_search_index(self.store)}

    def _audit_failure(self, stage: str, exc: Exception, now: datetime) -> None:
        try:
            self.store.record_audit(
                actor=ACTOR,
                action="scheduled_sync_failed",
                subject="salesforce",
                outputs={"stage": stage, "kind": type(exc).__name__, "error": str(exc)},
                as_of=now,
            )
        except Exception:
            log.warning("could not audit the failed scheduled sync", exc_info=True)

    # ---- thread -------------------------------------------------------------------------
    def _sleep(self, seconds: float) -> None:
        """The sync's backoff sleep: ends at once, with SchedulerStopped, at shutdown."""
        if self._stop.wait(seconds):
            raise SchedulerStopped()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.tick()
            except Exception:  # the scheduler itself must survive (e.g. database down)
                log.exception("sync scheduler tick failed")
            self._stop.wait(self.poll_seconds)

    def start(self) -> SyncScheduler:
        self._thread = threading.Thread(target=self._loop, name="sfdc-sync-schedule", daemon=True)
        self._thread.start()
        log.info(
            "Salesforce sync scheduled every %g min, full reconciliation daily at %s UTC",
            self.settings.sync_every_minutes,
            self.settings.sync_full_at or "never",
        )
        return self

    def stop(self, timeout: float = STOP_WAIT_S) -> bool:
        """Stop and wait up to `timeout` s; False when a sync was still running."""
        self._stop.set()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.warning("a scheduled sync was still running at shutdown; it is abandoned")
            return False
        return True


@asynccontextmanager
async def serving(
    settings: Settings, store: Store, state: Any, sfdc: SalesforceSettings | None = None
) -> AsyncIterator[SyncScheduler | None]:
    """The server's part (`server.lifespan`): the freshness monitor in `state.extras`, and
    the scheduler when Salesforce credentials are configured and the interval is > 0."""
    sfdc = sfdc or SalesforceSettings()
    scheduled = salesforce_configured(sfdc) and settings.sync_every_minutes > 0
    monitor = FreshnessMonitor(
        store,
        sync_in_use=scheduled,
        stale_after_seconds=sfdc.stale_after_seconds,
        cache_seconds=settings.freshness_cache_s,
    )
    state.extras[EXTRAS_KEY] = monitor
    scheduler = None
    if scheduled:
        scheduler = SyncScheduler(store, settings, sfdc, after_tick=monitor.check).start()
    try:
        yield scheduler
    finally:
        if scheduler is not None:
            await anyio.to_thread.run_sync(scheduler.stop)
