"""Deal tools: the deal/rep directory, scores with their reasons and next best actions.

Thin wrappers: the numbers come from `dealcast.ml.scoring.score` and the store; the docstring
of each `@tool` is what the model reads.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from langchain_core.tools import InjectedToolArg, tool

from dealcast.crm.store import Store
from dealcast.jsonable import to_jsonable
from dealcast.ml.scoring import score
from dealcast.risk.actions import ACTIONS
from dealcast.tools.cache import AsOfCache

MAX_DEALS = 50  # deals per scoring/risk call from the chat
# read by every node of every turn: shared, not copied (callers must not modify it)
DIRECTORY: AsOfCache[dict[str, Any]] = AsOfCache("directory", maxsize=8)
SCORES: AsOfCache[dict[str, Any]] = AsOfCache("scores", maxsize=256, copy=copy.deepcopy)


def load_directory(store: Store, as_of: datetime, url: str = "") -> dict[str, Any]:
    """Open deals (with account and owner names) and users as of T: what the planner
    resolves names against. Cached (tools.cache): its `as_of` says when it was read.
    `url` is accepted for older callers; the store's own URL keys the cache."""
    return DIRECTORY.get(store, as_of, (), lambda t: _directory(store, t))


def _directory(store: Store, as_of: datetime) -> dict[str, Any]:
    snap = store.as_of(as_of)
    deals = snap.open_opportunities()
    users = snap.users()
    accounts = snap.accounts()
    account_names = dict(zip(accounts["Id"], accounts["Name"], strict=True))
    user_names = dict(zip(users["Id"], users["Name"], strict=True))
    rows = []
    for d in deals.to_dict("records"):
        rows.append(
            {
                "id": str(d["Id"]),
                "name": str(d["Name"]),
                "account": account_names.get(d["AccountId"]) or "",
                "owner_id": str(d["OwnerId"]),
                "owner": user_names.get(d["OwnerId"]),
                "stage": str(d["StageName"]),
                "amount": None if pd.isna(d["Amount"]) else float(d["Amount"]),
                "close_date": None if pd.isna(d["CloseDate"]) else str(d["CloseDate"])[:10],
                "category": None
                if pd.isna(d["ForecastCategoryName"])
                else str(d["ForecastCategoryName"]),
            }
        )
    people = [
        {
            "id": str(u["Id"]),
            "name": str(u["Name"]),
            "manager_id": None if pd.isna(u["ManagerId"]) else str(u["ManagerId"]),
            "active": bool(u["IsActive"]),
        }
        for u in users.to_dict("records")
    ]
    return {"as_of": as_of.isoformat(), "deals": rows, "users": people}


def rule_actions(
    codes: Sequence[str], features: Mapping[str, Any], top: int = 3
) -> list[dict[str, Any]]:
    """Playbook actions answering the deal's risk codes, worded from its features. Used when
    no model measured the gains (rule-based scores): `expected_change_pts` is None."""
    out = []
    for action in ACTIONS:
        hits = [c for c in codes if c in action.risks]
        if hits:
            row = {k: features.get(k) for k in features}
            try:
                text = action.text(row)
            except (KeyError, TypeError, ValueError):
                continue  # a feature the wording needs is missing: skip, don't guess
            out.append(
                {"action": action.key, "text": text, "addresses": hits, "expected_change_pts": None}
            )
    return out[:top]


def score_deals_impl(
    store: Store,
    as_of: datetime,
    deal_ids: Sequence[str],
    risks: Mapping[str, list[dict[str, Any]]] | None = None,
    actor: str = "chat",
) -> dict[str, Any]:
    """Scores as of T, cached (tools.cache) per deals, attached risks and actor: a cached
    batch was stored and audited once, when it was computed; its `as_of` says when."""
    if not deal_ids:
        raise ValueError("score_deals needs at least one deal id")
    ids = tuple(dict.fromkeys(deal_ids))[:MAX_DEALS]
    args = (ids, _digest(risks or {}), actor)
    return SCORES.get(store, as_of, args, lambda t: _score_deals(store, t, list(ids), risks, actor))


def _digest(value: Any) -> str:
    text = json.dumps(to_jsonable(value), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _score_deals(
    store: Store,
    as_of: datetime,
    ids: list[str],
    risks: Mapping[str, list[dict[str, Any]]] | None,
    actor: str,
) -> dict[str, Any]:
    batch = score(store, as_of, ids, actor=actor, risks=risks or {})
    deals = []
    for d in batch.deals:
        actions = list(d.next_best_actions)
        source = "model" if actions else None
        if not actions and d.risks:
            actions = rule_actions([r["code"] for r in d.risks], d.features)
            source = "playbook" if actions else None
        deals.append(
            {
                "opportunity_id": d.opportunity_id,
                "win_probability": d.win_probability,
                "confidence": d.confidence,
                "needs_review": d.needs_review,
                "model_version": d.model_version,
                "stale": d.stale,
                "top_factors": d.top_factors,
                "next_best_actions": actions,
                "actions_source": source,
                "imputed": d.imputed,
            }
        )
    known = {d["id"]: d for d in load_directory(store, batch.as_of)["deals"]}
    for row in deals:
        info = known.get(row["opportunity_id"], {})
        for key in ("name", "account", "owner_id", "owner", "stage", "amount", "close_date"):
            row[key] = info.get(key)
    found = {d["opportunity_id"] for d in deals}
    return to_jsonable(
        {
            "as_of": batch.as_of,
            "model_version": batch.model_version,
            "fallback": batch.fallback,
            "deals": deals,
            "not_open": [i for i in ids if i not in found],
        }
    )


@tool
def score_deals(
    deal_ids: list[str],
    store: Annotated[Any, InjectedToolArg],
    as_of: Annotated[datetime, InjectedToolArg],
    risks: Annotated[dict[str, list[dict[str, Any]]] | None, InjectedToolArg] = None,
) -> dict[str, Any]:
    """Score open deals by opportunity Id: calibrated win probability (0-100), confidence
    (0-100), whether the score needs review, the top factors behind it in plain words and the
    next best actions. Use it to explain a score or say what to do about a deal."""
    return score_deals_impl(store, as_of, deal_ids, risks)


def list_deals_impl(
    directory: Mapping[str, Any],
    owner_ids: Sequence[str] | None = None,
    stage: str | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    rows = list(directory["deals"])
    if owner_ids:
        rows = [d for d in rows if d["owner_id"] in set(owner_ids)]
    if stage:
        rows = [d for d in rows if d["stage"].lower() == stage.lower()]
    if category:
        rows = [d for d in rows if (d["category"] or "").lower() == category.lower()]
    rows = [dict(d) for d in rows]  # the directory is shared (cached): hand out copies
    rows.sort(key=lambda d: (-(d["amount"] or 0.0), d["id"]))
    return {
        "as_of": directory["as_of"],
        "filters": {"owner_ids": list(owner_ids or []), "stage": stage, "category": category},
        "count": len(rows),
        "total_amount": float(sum(d["amount"] or 0.0 for d in rows)),
        "deals": rows,
    }


@tool
def list_deals(
    store: Annotated[Any, InjectedToolArg],
    as_of: Annotated[datetime, InjectedToolArg],
    owner_ids: list[str] | None = None,
    stage: str | None = None,
    category: str | None = None,
) -> dict[str, Any]:
    """List the deals open at the as-of time, largest first, optionally only those of some
    owners (User Ids), one stage or one forecast category, with their total amount."""
    return list_deals_impl(load_directory(store, as_of), owner_ids, stage, category)
