"""How fresh the served data is, on every answer, and the alerts when it is not.

`FreshnessMonitor.status()` (cached `freshness_cache_s` per process) says where the data
comes from and as of when:

- `salesforce`: a sync has committed (`salesforce_sync_state`). As of the oldest object's
  last sync (`crm.salesforce_sync_freshness.freshness`); stale past `stale_after_seconds`
  (DEALCAST_SFDC_STALE_AFTER_SECONDS, one hour). Salesforce down: the cached store is
  served as is, marked stale.
- `import`: fed by Data Export imports only. As of the last finished import; never stale by
  age (exports arrive weekly, "no sync in the last hour" means nothing) — unless Salesforce
  sync is configured for this server, then it is stale until a sync has committed.
- `none`: nothing loaded yet.

Alerts: stale data, the last sync failed (a `salesforce_sync_failed` or
`scheduled_sync_failed` audit entry newer than the last committed sync), and data quality
below 90 in the last import (flagged for review). Stale data and a failed sync each log a
WARNING and write one audit entry per episode (an episode ends when new data commits), not
one per request; all of them are listed by `/readyz`.

`FreshnessMiddleware` adds `X-Data-Stale`, `X-Data-As-Of` and `X-Data-Source` to every
response but `/healthz` (liveness must not touch the database), and puts the status in a
context variable that response models read (`current()`: `data_stale`/`data_as_of` fields).
"""

from __future__ import annotations

import contextvars
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
from sqlalchemy import func, select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dealcast.crm.quality import FLAG_BELOW
from dealcast.crm.salesforce_sync_freshness import freshness
from dealcast.crm.schema import audit_log, import_run, salesforce_sync_state
from dealcast.crm.store import Store

log = logging.getLogger(__name__)

FAILED_ACTIONS = ("salesforce_sync_failed", "scheduled_sync_failed")
STALE_ALERT, FAILED_ALERT = "data_stale_alert", "sync_failed_alert"
SKIP_PATHS = frozenset({"/healthz"})
EXTRAS_KEY = "freshness"


@dataclass(frozen=True)
class DataStatus:
    source: str  # salesforce | import | none
    as_of: datetime | None  # naive UTC
    age_seconds: float | None
    stale: bool
    sync_failed: bool
    quality_score: float | None
    alerts: tuple[str, ...]
    checked_at: datetime

    def headers(self) -> list[tuple[bytes, bytes]]:
        as_of = self.as_of.isoformat(timespec="seconds") + "Z" if self.as_of else "unknown"
        return [
            (b"x-data-stale", b"true" if self.stale else b"false"),
            (b"x-data-as-of", as_of.encode()),
            (b"x-data-source", self.source.encode()),
        ]


_CURRENT: contextvars.ContextVar[DataStatus | None] = contextvars.ContextVar(
    "dealcast_data_status", default=None
)


def current() -> DataStatus | None:
    """The status of the request being answered (None outside a request)."""
    return _CURRENT.get()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


class FreshnessMonitor:
    def __init__(
        self,
        store: Store,
        *,
        sync_in_use: bool,
        stale_after_seconds: float = 3600,
        cache_seconds: float = 5.0,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store, self.sync_in_use = store, sync_in_use
        self.stale_after, self.cache_seconds, self.clock = (
            stale_after_seconds,
            cache_seconds,
            clock,
        )
        self._lock = threading.Lock()
        self._cached: tuple[float, DataStatus | None] | None = None

    def cached(self) -> tuple[bool, DataStatus | None]:
        """(still fresh?, the cached status): the request path's no-thread fast path."""
        hit = self._cached
        if hit is None or time.monotonic() - hit[0] >= self.cache_seconds:
            return False, None
        return True, hit[1]

    def status(self) -> DataStatus | None:
        """The cached status, recomputed (and alerted on) when older than the cache time.
        None when the database cannot answer (the request goes on without the headers)."""
        fresh, value = self.cached()
        if fresh:
            return value
        with self._lock:
            fresh, value = self.cached()
            if fresh:
                return value
            try:
                value = self.check()
            except Exception as exc:
                log.warning("data freshness unavailable: %s: %s", type(exc).__name__, exc)
                value = None
            self._cached = (time.monotonic(), value)
            return value

    def check(self) -> DataStatus:
        """Compute the status now and raise the alerts it calls for (blocking)."""
        status, episode = self._compute(self.clock())
        if status.stale:
            self._alert(STALE_ALERT, episode, status, status.alerts[0])
        if status.sync_failed:
            self._alert(FAILED_ALERT, episode, status, "the last Salesforce sync failed")
        return status

    def _compute(self, now: datetime) -> tuple[DataStatus, datetime | None]:
        with self.store.engine.connect() as conn:
            newest_sync = conn.execute(select(func.max(salesforce_sync_state.c.synced_at))).scalar()
            failed_at = conn.execute(
                select(func.max(audit_log.c.recorded_at)).where(
                    audit_log.c.action.in_(FAILED_ACTIONS)
                )
            ).scalar()
            last = conn.execute(
                select(import_run.c.finished_at, import_run.c.quality_score)
                .where(import_run.c.finished_at.is_not(None))
                .order_by(import_run.c.id.desc())
                .limit(1)
            ).first()
        alerts: list[str] = []
        quality = None if last is None or last[1] is None else float(last[1])
        if newest_sync is not None:
            fr = freshness(self.store, now.replace(tzinfo=UTC), self.stale_after)
            source, as_of, stale = "salesforce", fr.last_sync, fr.stale
            episode: datetime | None = newest_sync
        else:
            source = "import" if last is not None else "none"
            as_of = last[0] if last is not None else None
            stale, episode = self.sync_in_use, as_of
        age = None if as_of is None else (now - as_of).total_seconds()
        sync_failed = failed_at is not None and (newest_sync is None or failed_at > newest_sync)
        if stale:
            alerts.append(
                "Salesforce sync is configured but no sync has committed yet"
                if newest_sync is None
                else f"data is stale: last Salesforce sync {as_of:%Y-%m-%d %H:%M} UTC, "
                f"{(age or 0) / 60:.0f} min ago (limit {self.stale_after / 60:.0f}); "
                "serving the cached store"
            )
        if sync_failed:
            alerts.append(f"the last Salesforce sync failed ({failed_at:%Y-%m-%d %H:%M} UTC)")
        if quality is not None and quality < FLAG_BELOW:
            alerts.append(
                f"data quality {quality:.1f} < {FLAG_BELOW:.0f} in the last import: "
                "flagged for review"
            )
        if source == "none":
            alerts.append("no CRM data loaded yet")
        status = DataStatus(
            source, as_of, age, stale, sync_failed, quality, tuple(alerts), checked_at=now
        )
        return status, episode

    def _alert(
        self, action: str, episode: datetime | None, status: DataStatus, message: str
    ) -> None:
        """One WARNING and one audit entry per episode: none yet since the data last
        changed (`episode`: the last committed sync or import)."""
        with self.store.engine.connect() as conn:
            last = conn.execute(
                select(func.max(audit_log.c.recorded_at)).where(audit_log.c.action == action)
            ).scalar()
        if last is not None and (episode is None or last >= episode):
            return
        log.warning("ALERT %s: %s", action, message)
        outputs: dict[str, Any] = {
            "message": message,
            "source": status.source,
            "data_as_of": status.as_of.isoformat() if status.as_of else None,
            "age_seconds": None if status.age_seconds is None else round(status.age_seconds),
        }
        self.store.record_audit(
            actor="monitor", action=action, subject="data_freshness", outputs=outputs
        )


def monitor_for(state: Any) -> FreshnessMonitor | None:
    """The app's monitor (`AppState.extras`), set up by `sync_schedule.serving`."""
    if state is None:
        return None
    monitor: FreshnessMonitor | None = state.extras.get(EXTRAS_KEY)
    return monitor


async def status_of(state: Any) -> DataStatus | None:
    monitor = monitor_for(state)
    if monitor is None:
        return None
    fresh, value = monitor.cached()
    if fresh:
        return value
    return await anyio.to_thread.run_sync(monitor.status)


class FreshnessMiddleware:
    """Pure ASGI (streams pass through untouched; the context variable reaches the route
    in the same task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in SKIP_PATHS:
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        state = getattr(getattr(app, "state", None), "dealcast", None)
        status = await status_of(state)
        if status is None:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [*message.get("headers", []), *status.headers()]
                message = {**message, "headers": headers}
            await send(message)

        token = _CURRENT.set(status)
        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            _CURRENT.reset(token)
