"""Ingestion tool: how fresh and how good the stored CRM data is, after a Salesforce sync
when the user asked for one or the synced data is stale (`sync_on_demand`)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg, tool
from sqlalchemy import func, select

from dealcast.crm.quality import FLAG_BELOW
from dealcast.crm.schema import CRM_TABLES, import_run
from dealcast.crm.store import Store
from dealcast.jsonable import to_jsonable
from dealcast.tools.cache import AsOfCache

# every chat turn asks; the answer only changes with the data (the version) and the hour
FRESHNESS: AsOfCache[dict[str, Any]] = AsOfCache("freshness", maxsize=8, copy=copy.deepcopy)


def data_freshness_impl(store: Store, as_of: datetime) -> dict[str, Any]:
    """Cached (tools.cache): `as_of` and `data_age_days` say as of when it was measured."""
    return FRESHNESS.get(store, as_of, (), lambda t: _freshness(store, t))


def refresh_data_impl(store: Store, as_of: datetime, *, asked: bool = False) -> dict[str, Any]:
    """Freshness, after a sync when one is due (see `dealcast.sync_on_demand`). Only a run as
    of now syncs: a past as-of reads the store point-in-time and a sync cannot change it."""
    sync: dict[str, Any] | None = None
    if _is_now(as_of):
        from dealcast.sync_on_demand import sync_on_demand

        sync = sync_on_demand(store, asked=asked)
    return {**data_freshness_impl(store, as_of), "sync": sync}


def _is_now(as_of: datetime) -> bool:
    return abs((datetime.now(UTC).replace(tzinfo=None) - as_of).total_seconds()) < 120


def _freshness(store: Store, as_of: datetime) -> dict[str, Any]:
    with store.engine.connect() as conn:
        last = (
            conn.execute(
                select(import_run)
                .where(import_run.c.finished_at.is_not(None))
                .order_by(import_run.c.id.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
        opp = CRM_TABLES["Opportunity"]
        stamp = func.coalesce(opp.c.SystemModstamp, opp.c.LastModifiedDate)
        newest = conn.execute(select(func.max(stamp)).where(stamp <= as_of)).scalar_one_or_none()
    age_days = None if newest is None else round((as_of - newest).total_seconds() / 86400, 1)
    quality = None if last is None else last["quality_score"]
    return to_jsonable(
        {
            "as_of": as_of,
            "last_import_id": None if last is None else last["id"],
            "last_import_kind": None if last is None else last["kind"],
            "last_import_finished_at": None if last is None else last["finished_at"],
            "quality_score": None if quality is None else round(float(quality), 1),
            "quality_flagged": None if quality is None else bool(quality < FLAG_BELOW),
            "newest_change_at": newest,
            "data_age_days": age_days,
        }
    )


@tool
def data_freshness(
    store: Annotated[Any, InjectedToolArg], as_of: Annotated[datetime, InjectedToolArg]
) -> dict[str, Any]:
    """How fresh the CRM data is: the last import or sync, its data-quality score (0-100,
    flagged below 90) and the newest opportunity change before the as-of time."""
    return data_freshness_impl(store, as_of)
