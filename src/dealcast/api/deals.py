"""Deal listing and detail for the API (blocking: run these in a worker thread).

Scores: the list reads each deal's latest stored prediction (table `prediction`) made at most
`SCORE_MAX_AGE` before the as-of time; deals without one are scored on demand (and stored,
so the next request finds them). The detail always scores its deal afresh with its risks, so
the next best actions answer those risks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import func, select

from dealcast.cli_risk import risk_rows
from dealcast.crm.schema import prediction
from dealcast.crm.stages import StageConfig
from dealcast.crm.store import Store
from dealcast.ml.scoring import score
from dealcast.risk.context import RiskContext
from dealcast.risk.detectors import detect
from dealcast.risk.models import RISK_CODES
from dealcast.safety.ids import id_key
from dealcast.safety.policy import Caller, Visibility
from dealcast.tools.deals import rule_actions

SCORE_MAX_AGE = timedelta(hours=24)
CHUNK = 500


class DealNotFound(LookupError):
    """Unknown, closed at T, or not visible to the caller (one answer for all three)."""


class BadFilter(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class DealFilters:
    owner: str | None = None
    stage: str | None = None
    risk: str | None = None
    min_probability: float | None = None
    max_probability: float | None = None
    limit: int = 100
    offset: int = 0

    def check(self, stages: StageConfig) -> DealFilters:
        stage = self.stage
        if stage is not None:
            names = {s.name.casefold(): s.name for s in stages.open_stages}
            if stage.strip().casefold() not in names:
                valid = ", ".join(s.name for s in stages.open_stages)
                raise BadFilter("stage", f"unknown open stage {stage!r}; valid: {valid}")
            stage = names[stage.strip().casefold()]
        if self.risk is not None and self.risk not in RISK_CODES:
            raise BadFilter("risk", f"unknown risk {self.risk!r}; valid: {', '.join(RISK_CODES)}")
        lo, hi = self.min_probability, self.max_probability
        if lo is not None and hi is not None and lo > hi:
            raise BadFilter("min_probability", f"min_probability {lo} > max_probability {hi}")
        return replace(self, stage=stage)


def actor_of(caller: Caller) -> str:
    return f"api:{caller.user_id}"


def _str(value: Any) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _summary(
    row: Mapping[Any, Any], users: dict[str, str], accounts: dict[str, str]
) -> dict[str, Any]:
    close = row.get("CloseDate")
    amount = row.get("Amount")
    return {
        "id": str(row["Id"]),
        "name": str(row["Name"]),
        "account": accounts.get(str(row.get("AccountId"))),
        "owner_id": _str(row.get("OwnerId")),
        "owner": users.get(str(row.get("OwnerId"))),
        "stage": str(row["StageName"]),
        "amount": None if amount is None or pd.isna(amount) else float(amount),
        "close_date": None if close is None or pd.isna(close) else str(close)[:10],
        "category": _str(row.get("ForecastCategoryName")),
    }


def latest_scores(store: Store, as_of: datetime, ids: list[str]) -> dict[str, dict[str, Any]]:
    """{deal id: its latest stored prediction made as of (T - SCORE_MAX_AGE, T]}."""
    out: dict[str, dict[str, Any]] = {}
    for i in range(0, len(ids), CHUNK):
        ranked = (
            select(
                prediction,
                func.row_number()
                .over(
                    partition_by=prediction.c.opportunity_id,
                    order_by=(prediction.c.as_of.desc(), prediction.c.id.desc()),
                )
                .label("rank"),
            )
            .where(
                prediction.c.as_of <= as_of,
                prediction.c.as_of > as_of - SCORE_MAX_AGE,
                prediction.c.opportunity_id.in_(ids[i : i + CHUNK]),
            )
            .subquery()
        )
        with store.engine.connect() as conn:
            rows = conn.execute(select(ranked).where(ranked.c.rank == 1)).mappings().all()
        out.update({str(r["opportunity_id"]): dict(r) for r in rows})
    return out


def _score_fields(hit: dict[str, Any]) -> dict[str, Any]:
    return {
        "win_probability": float(hit["win_probability"]),
        "confidence": float(hit["confidence"]),
        "needs_review": bool(hit["needs_review"]),
        "model_version": str(hit["model_version"]),
        "scored_as_of": hit["as_of"],
    }


def list_deals(
    store: Store, caller: Caller, as_of: datetime, filters: DealFilters
) -> dict[str, Any]:
    """Open deals at `as_of` the caller may see, scored, filtered and paged."""
    snap = store.as_of(as_of)
    deals = snap.open_opportunities()
    users = snap.users()
    vis = Visibility.from_users(users, caller)
    rows = [r for r in deals.to_dict("records") if vis.can_see(_str(r.get("OwnerId")))]
    if filters.owner:
        owner = id_key(filters.owner.strip())
        rows = [r for r in rows if id_key(str(r.get("OwnerId") or "")) == owner]
    if filters.stage:
        rows = [r for r in rows if r["StageName"] == filters.stage]
    if filters.risk:
        codes = risk_codes(store, snap.as_of, [str(r["Id"]) for r in rows])
        rows = [r for r in rows if filters.risk in codes.get(str(r["Id"]), [])]
    else:
        codes = None
    rows.sort(key=lambda r: (-_amount(r), str(r["Id"])))
    by_probability = filters.min_probability is not None or filters.max_probability is not None
    if not by_probability:  # page first: only the page needs scores
        total = len(rows)
        rows = rows[filters.offset : filters.offset + filters.limit]
    scores, on_demand = _scores(store, caller, snap.as_of, [str(r["Id"]) for r in rows])
    user_names = dict(zip(users["Id"].astype(str), users["Name"].astype(str), strict=True))
    accounts = snap.accounts()
    account_names = dict(zip(accounts["Id"].astype(str), accounts["Name"].astype(str), strict=True))
    out = []
    lo, hi = filters.min_probability, filters.max_probability
    for r in rows:
        item = _summary(r, user_names, account_names) | scores.get(str(r["Id"]), {})
        p = item.get("win_probability")
        if lo is not None and (p is None or p < lo):
            continue
        if hi is not None and (p is None or p > hi):
            continue
        if codes is not None:
            item["risk_codes"] = codes.get(item["id"], [])
        out.append(item)
    if by_probability:
        total = len(out)
        out = out[filters.offset : filters.offset + filters.limit]
    return {
        "as_of": snap.as_of,
        "total": total,
        "limit": filters.limit,
        "offset": filters.offset,
        "scored_on_demand": on_demand,
        "deals": out,
    }


def _amount(row: Mapping[Any, Any]) -> float:
    value = row.get("Amount")
    return 0.0 if value is None or pd.isna(value) else float(value)


def _scores(
    store: Store, caller: Caller, as_of: datetime, ids: list[str]
) -> tuple[dict[str, dict[str, Any]], int]:
    """Latest stored scores of `ids`; the ones without are scored now. (scores, # scored)."""
    scores = {k: _score_fields(v) for k, v in latest_scores(store, as_of, ids).items()}
    missing = [i for i in ids if i not in scores]
    if missing:
        batch = score(store, as_of, missing, actor=actor_of(caller))
        for fresh in batch.deals:
            scores[fresh.opportunity_id] = {
                "win_probability": fresh.win_probability,
                "confidence": fresh.confidence,
                "needs_review": fresh.needs_review,
                "model_version": fresh.model_version,
                "scored_as_of": fresh.as_of,
            }
    return scores, len(missing)


def risk_codes(store: Store, as_of: datetime, ids: list[str]) -> dict[str, list[str]]:
    """{deal id: its risk codes, worst first} for the given open deals."""
    if not ids:
        return {}
    found = detect(RiskContext.load(store, as_of, ids))
    return {str(k): [r.code for r in v] for k, v in found.items()}


def deal_detail(store: Store, caller: Caller, as_of: datetime, deal_id: str) -> dict[str, Any]:
    """One open deal the caller may see: fresh score, factors, risks, next best actions."""
    snap = store.as_of(as_of, [deal_id])
    deals = snap.open_opportunities()
    users = snap.users()
    vis = Visibility.from_users(users, caller)
    match = deals[deals["Id"] == deal_id]
    if match.empty or not vis.can_see(_str(match.iloc[0]["OwnerId"])):
        raise DealNotFound(f"no open deal {deal_id} you can see as of {snap.as_of:%Y-%m-%d %H:%M}")
    row = match.iloc[0].to_dict()
    risks = risk_rows(store, snap.as_of, deal_id)[0]["risks"]
    batch = score(store, snap.as_of, [deal_id], actor=actor_of(caller), risks={deal_id: risks})
    d = batch.deals[0]
    actions, source = list(d.next_best_actions), "model" if d.next_best_actions else None
    if not actions and risks:
        actions = rule_actions([r["code"] for r in risks], d.features)
        source = "playbook" if actions else None
    user_names = dict(zip(users["Id"].astype(str), users["Name"].astype(str), strict=True))
    accounts = snap.accounts()
    account_names = dict(zip(accounts["Id"].astype(str), accounts["Name"].astype(str), strict=True))
    summary = _summary(row, user_names, account_names) | {
        "win_probability": d.win_probability,
        "confidence": d.confidence,
        "needs_review": d.needs_review,
        "model_version": d.model_version,
        "scored_as_of": d.as_of,
        "risk_codes": [r["code"] for r in risks],
    }
    return {
        "deal": summary,
        "as_of": snap.as_of,
        "score": {
            "win_probability": d.win_probability,
            "confidence": d.confidence,
            "needs_review": d.needs_review,
            "model_version": d.model_version,
            "stale": d.stale,
            "imputed": d.imputed,
            "confidence_factors": d.confidence_factors,
        },
        "top_factors": d.top_factors,
        "risks": risks,
        "next_best_actions": actions,
        "actions_source": source,
    }
