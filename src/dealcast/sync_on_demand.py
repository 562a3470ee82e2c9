"""A Salesforce sync started by the chat's ingestion node: when the user asks for one ("sync
with Salesforce", "refresh the data") or when the synced data is stale, and only when
Salesforce is configured.

Salesforce being down must not slow every chat turn down, so the calls go through a circuit
breaker (`graph.circuit`, key `salesforce`): after 3 failed syncs in a row the chat stops
trying for a minute and answers from the stored data, saying so. A sync already running
(the server's schedule, the CLI) is not waited for. After a sync, the changed deals are
rescored, the forecast rebuilt (`refresh.refresh_after_sync`) and an existing search index
updated, as after a scheduled sync. Nothing here raises: the outcome is reported.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from dealcast.config import get_settings
from dealcast.crm.salesforce_sync_config import SalesforceSettings, salesforce_configured
from dealcast.crm.salesforce_sync_freshness import freshness
from dealcast.crm.store import Store
from dealcast.graph.circuit import breaker

log = logging.getLogger(__name__)
BREAKER_KEY = "salesforce"
ACTOR = "chat"


def sync_on_demand(
    store: Store, *, asked: bool, sfdc: SalesforceSettings | None = None
) -> dict[str, Any]:
    """`{"attempted", "ok", "reason", ...}`: whether a sync ran, and what it changed."""
    sfdc = sfdc or SalesforceSettings()
    if not salesforce_configured(sfdc):
        return _skipped("no Salesforce connection is configured: imports refresh this store")
    now = datetime.now(UTC).replace(tzinfo=None)
    if not asked and not freshness(store, now, sfdc.stale_after_seconds).stale:
        return _skipped("the synced data is fresh")
    from dealcast.crm.sync_lock import SyncLocked, held

    gate = breaker(BREAKER_KEY)
    try:
        with held(store, ACTOR):
            if not gate.allow():
                return _skipped(
                    "Salesforce is unavailable (several syncs failed): answering from the "
                    f"stored data; the next try is in {gate.retry_in():.0f} s",
                    circuit="open",
                )
            try:
                report = _sync(store, sfdc, now)
            except Exception as exc:
                gate.record_failure()
                log.warning("chat-triggered Salesforce sync failed: %s", exc)
                return {
                    "attempted": True,
                    "ok": False,
                    "reason": f"the sync failed ({type(exc).__name__}: {exc}); answering "
                    "from the stored data",
                }
            gate.record_success()
    except SyncLocked:
        return _skipped("a sync is already running; answering from the stored data")
    return {"attempted": True, "ok": True, "reason": "synced", **_after(store, report, now)}


def _sync(store: Store, sfdc: SalesforceSettings, now: datetime) -> Any:
    from dealcast.crm.salesforce_sync import sync_salesforce
    from dealcast.crm.salesforce_sync_http import RetryPolicy

    # someone is waiting for the answer: two tries, short waits (the schedule's syncs keep
    # the patient policy); a node timeout would leave the sync running in the background
    policy = RetryPolicy(
        attempts=2, base_delay=0.2, max_delay=1.0, rate_limit_delay=1.0, rate_limit_attempts=1
    )
    return sync_salesforce(store, sfdc, actor=ACTOR, as_of=now, policy=policy)


def _after(store: Store, report: Any, now: datetime) -> dict[str, Any]:
    """Rescore, forecast and index after a committed sync; their failures are reported."""
    from dealcast.refresh import refresh_after_sync, update_search_index

    out: dict[str, Any] = {
        "api_calls": report.api_calls,
        "changed_deals": (
            None if report.changed_opportunities is None else len(report.changed_opportunities)
        ),
        "deleted": report.deleted,
        "mismatches": list(report.mismatches),
    }
    try:
        refreshed = refresh_after_sync(
            store,
            report,
            as_of=now,
            actor=ACTOR,
            fiscal_start_month=get_settings().fiscal_start_month,
        )
        out["rescored"] = refreshed.get("rescored", 0)
    except Exception as exc:  # the sync is committed; the next refresh catches up
        log.warning("refresh after a chat-triggered sync failed: %s", exc, exc_info=True)
        out["refresh_error"] = f"{type(exc).__name__}: {exc}"
    out["search_index"] = update_search_index(store)
    return out


def _skipped(reason: str, **extra: Any) -> dict[str, Any]:
    return {"attempted": False, "ok": None, "reason": reason, **extra}
