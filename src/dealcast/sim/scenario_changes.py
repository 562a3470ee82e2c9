"""What-if changes applied to a copy of the pipeline; CRM data is never touched.

A scenario is a list of changes, each a dict with an `op`:
- `add`: a hypothetical deal: `name`, `amount`, `close_date`, optional `stage`, `owner`,
  `category`, `probability` (0-1; default: the stage's historical win rate).
- `remove`: `deal` (Id or exact name).
- `move`: `deal`, `close_date` (not before T).
- `amount`: `deal`, `amount` (>= 0).
- `stage`: `deal`, `stage`: the deal's win odds move by the change in the stages'
  historical win rates (logit p' = logit p + logit r(new) - logit r(old)) unless a
  `probability` change for the same deal follows; its category and timing bucket follow.
- `probability`: `deal`, `probability` (0-1).
- `exclude_owner`: `owner` (User Id or name): their deals leave the pipeline.
- `exclude_category`: `category`: deals in that forecast category leave the pipeline.
Invalid changes raise ValueError naming what is valid; the pipeline is left unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Literal, get_args

import numpy as np
import pandas as pd

from dealcast.crm.stages import FORECAST_CATEGORIES, StageConfig
from dealcast.sim.inputs import PipelineInputs

Op = Literal[
    "add", "remove", "move", "amount", "stage", "probability", "exclude_owner", "exclude_category"
]
OPS: tuple[str, ...] = get_args(Op)
P_FLOOR = 0.005  # keep moved odds off 0/1 so a later stage move can still change them


def _date(value: Any, as_of: date, what: str) -> pd.Timestamp:
    try:
        day = date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not a date (YYYY-MM-DD)") from None
    if day < as_of:
        raise ValueError(f"{what}: {day} is before the forecast date {as_of}")
    return pd.Timestamp(day)


def _amount(value: Any, what: str) -> float:
    try:
        amount = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: amount {value!r} is not a number") from None
    if not (np.isfinite(amount) and amount >= 0):
        raise ValueError(f"{what}: amount must be >= 0, got {value}")
    return amount


def _probability(value: Any, what: str) -> float:
    try:
        p = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what}: probability {value!r} is not a number") from None
    if not 0 <= p <= 1:
        raise ValueError(f"{what}: probability must be 0-1 (e.g. 0.35), got {value}")
    return p


def _row(deals: pd.DataFrame, ref: Any, what: str) -> int:
    ref = str(ref or "").strip()
    hits = deals.index[(deals["Id"] == ref) | (deals["Name"].str.lower() == ref.lower())]
    if len(hits) == 1:
        return int(hits[0])
    if len(hits) > 1:
        raise ValueError(f"{what}: {ref!r} names {len(hits)} open deals; use the deal Id")
    raise ValueError(f"{what}: no open deal with Id or name {ref!r} as of the forecast date")


def _shift(p: float, old: float | None, new: float | None) -> float:
    if old is None or new is None:
        return p
    logit = lambda x: np.log(x / (1 - x))  # noqa: E731
    clip = lambda x: float(np.clip(x, P_FLOOR, 1 - P_FLOOR))  # noqa: E731
    z = logit(clip(p)) + logit(clip(new)) - logit(clip(old))
    return float(1 / (1 + np.exp(-z)))


def _owner_ids(users: pd.DataFrame, ref: Any, what: str) -> str:
    ref = str(ref or "").strip()
    hits = users[(users["Id"] == ref) | (users["Name"].str.lower() == ref.lower())]["Id"]
    if len(hits) != 1:
        raise ValueError(f"{what}: no single user with Id or name {ref!r}")
    return str(hits.iloc[0])


def apply_changes(
    inputs: PipelineInputs, changes: Sequence[Mapping[str, Any]], stages: StageConfig
) -> PipelineInputs:
    """The inputs with the changes applied, in order (validated as they are applied)."""
    deals = inputs.deals.copy().reset_index(drop=True)
    as_of = inputs.as_of.date()
    rates = inputs.stage_win_rates
    for n, change in enumerate(changes, start=1):
        op = change.get("op")
        what = f"change #{n} ({op})"
        if op not in OPS:
            raise ValueError(f"change #{n}: op {op!r} is not one of {', '.join(OPS)}")
        if op == "add":
            stage = str(change.get("stage") or stages.open_stages[0].name)
            if not stages.knows(stage) or stages.get(stage).is_closed:
                names = ", ".join(s.name for s in stages.open_stages)
                raise ValueError(f"{what}: {stage!r} is not an open stage; valid: {names}")
            p = change.get("probability")
            default = rates.get(stage, stages.get(stage).probability / 100)
            new = {
                "Id": f"scenario-{n}",
                "Name": str(change.get("name") or f"Hypothetical deal {n}"),
                "AccountId": None,
                "OwnerId": _owner_ids(inputs.users, change["owner"], what)
                if change.get("owner")
                else None,
                "StageName": stage,
                "ForecastCategoryName": str(
                    change.get("category") or stages.get(stage).forecast_category
                ),
                "Amount": _amount(change.get("amount"), what),
                "CloseDate": _date(change.get("close_date"), as_of, what),
                "Probability": stages.get(stage).probability,
                "CreatedDate": pd.Timestamp(inputs.as_of),
                "p": default if p is None else _probability(p, what),
                "SlipCount": 0,
            }
            deals = pd.concat([deals, pd.DataFrame([new])], ignore_index=True)
        elif op in ("exclude_owner", "exclude_category"):
            if op == "exclude_owner":
                owner = _owner_ids(inputs.users, change.get("owner"), what)
                deals = deals[deals["OwnerId"] != owner].reset_index(drop=True)
            else:
                category = change.get("category")
                if category not in FORECAST_CATEGORIES:
                    valid = ", ".join(FORECAST_CATEGORIES)
                    raise ValueError(f"{what}: category {category!r} is not one of {valid}")
                deals = deals[deals["ForecastCategoryName"] != category].reset_index(drop=True)
        else:
            i = _row(deals, change.get("deal"), what)
            if op == "remove":
                deals = deals.drop(index=i).reset_index(drop=True)
            elif op == "move":
                deals.loc[i, "CloseDate"] = _date(change.get("close_date"), as_of, what)
            elif op == "amount":
                deals.loc[i, "Amount"] = _amount(change.get("amount"), what)
            elif op == "probability":
                deals.loc[i, "p"] = _probability(change.get("probability"), what)
            else:  # stage
                stage = str(change.get("stage"))
                if not stages.knows(stage) or stages.get(stage).is_closed:
                    names = ", ".join(s.name for s in stages.open_stages)
                    raise ValueError(f"{what}: {stage!r} is not an open stage; valid: {names}")
                old = str(deals.loc[i, "StageName"])
                current = float(deals["p"].to_numpy(float)[i])
                deals.loc[i, "p"] = _shift(current, rates.get(old), rates.get(stage))
                deals.loc[i, "StageName"] = stage
                deals.loc[i, "ForecastCategoryName"] = stages.get(stage).forecast_category
    return inputs.with_deals(deals)
