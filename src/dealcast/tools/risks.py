"""Risk tool: detected risks of open deals, with evidence (activity ids, dates, quotes)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg, tool

from dealcast.crm.store import Store
from dealcast.jsonable import to_jsonable
from dealcast.risk.context import RiskContext
from dealcast.risk.detectors import detect
from dealcast.tools.cache import AsOfCache
from dealcast.tools.deals import MAX_DEALS, load_directory

RISKS: AsOfCache[dict[str, Any]] = AsOfCache("risks", maxsize=256, copy=copy.deepcopy)


def deal_risks_impl(store: Store, as_of: datetime, deal_ids: Sequence[str]) -> dict[str, Any]:
    """Risks as of T, cached per deals (tools.cache): its `as_of` says when detected."""
    if not deal_ids:
        raise ValueError("deal_risks needs at least one deal id")
    ids = tuple(dict.fromkeys(deal_ids))[:MAX_DEALS]
    return RISKS.get(store, as_of, ids, lambda t: _deal_risks(store, t, list(ids)))


def _deal_risks(store: Store, as_of: datetime, ids: list[str]) -> dict[str, Any]:
    ctx = RiskContext.load(store, as_of, ids)
    found = detect(ctx)
    frame = ctx.deals[["OpportunityId", "Name", "StageName"]].astype(str)
    deals = [
        {
            "opportunity_id": deal_id,
            "name": name,
            "stage": stage,
            "risks": [r.as_dict() for r in found.get(deal_id, [])],
        }
        for deal_id, name, stage in frame.itertuples(index=False)
    ]
    known = {d["id"]: d for d in load_directory(store, as_of)["deals"]}
    for row in deals:
        info = known.get(row["opportunity_id"], {})
        for key in ("account", "owner_id", "owner", "amount", "close_date"):
            row[key] = info.get(key)
    seen = {d["opportunity_id"] for d in deals}
    return to_jsonable(
        {"as_of": as_of, "deals": deals, "not_open": [i for i in ids if i not in seen]}
    )


@tool
def deal_risks(
    deal_ids: list[str],
    store: Annotated[Any, InjectedToolArg],
    as_of: Annotated[datetime, InjectedToolArg],
) -> dict[str, Any]:
    """Risks of open deals by opportunity Id (stalled, ghost contacts, pricing pressure,
    single-threaded, no decision maker, close date slipped, competitor, budget, negative
    sentiment), worst first, each with severity, message and evidence (CRM ids and dates)."""
    return deal_risks_impl(store, as_of, deal_ids)
