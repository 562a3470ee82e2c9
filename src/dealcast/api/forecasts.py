"""Forecasts, forecast history and scenarios for the API, cut to what the caller may see
(blocking: run these in a worker thread).

The org-level numbers of a forecast (expected, P10-P90, categories) are returned to every
role; the roll-ups are filtered: `by_owner` keeps the rows of owners the caller can see (a
rep: their own row), `by_manager` the teams whose manager the caller can see (a manager:
their own team and the sub-teams in it; a rep: none unless they lead one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import pandas as pd

from dealcast.api.deals import BadFilter, actor_of
from dealcast.api.deps import now
from dealcast.crm.stages import StageConfig
from dealcast.crm.store import Store
from dealcast.safety.policy import Caller, Visibility
from dealcast.sim.forecast_history import history
from dealcast.sim.pipeline import forecast
from dealcast.sim.scenarios import run_scenario


def _visibility(store: Store, caller: Caller, as_of: datetime) -> Visibility:
    return Visibility.from_users(store.as_of(as_of).users(), caller)


def filter_payload(payload: Mapping[str, Any], vis: Visibility) -> dict[str, Any]:
    """A forecast payload with each period's roll-ups cut to what `vis` allows."""
    out = dict(payload)
    periods = []
    for row in payload.get("periods", []):
        row = dict(row)
        row["by_owner"] = [r for r in row.get("by_owner") or [] if vis.can_see(r.get("owner_id"))]
        row["by_manager"] = [
            r for r in row.get("by_manager") or [] if vis.can_see(r.get("manager_id"))
        ]
        periods.append(row)
    out["periods"] = periods
    return out


def run_forecast(
    store: Store,
    caller: Caller,
    as_of: datetime,
    kind: str,
    n_periods: int,
    seed: int,
    n_sims: int,
    *,
    fiscal_start_month: int,
    new_pipeline: bool,
) -> dict[str, Any]:
    payload = forecast(
        store,
        as_of,
        kind,
        n_periods,
        seed,
        n_sims=n_sims,
        fiscal_start_month=fiscal_start_month,
        new_pipeline=new_pipeline,
        actor=actor_of(caller),
    )
    return filter_payload(payload, _visibility(store, caller, as_of))


def forecast_history(
    store: Store, caller: Caller, period: str, *, fiscal_start_month: int
) -> dict[str, Any]:
    try:
        out = history(store, period, fiscal_start_month=fiscal_start_month)
    except ValueError as exc:
        raise BadFilter("period", str(exc)) from None
    vis = _visibility(store, caller, now())

    def visible(call: Mapping[str, Any]) -> bool:
        return vis.can_see(call.get("owner_id"))

    out["calls"] = [c for c in out["calls"] if visible(c)]
    out["current"] = [c for c in out["current"] if visible(c)]
    out["timeline"] = [e for e in out["timeline"] if e.get("kind") == "forecast" or visible(e)]
    return out


def _resolve(frame: pd.DataFrame, ref: str, id_col: str = "Id") -> list[str]:
    """Ids of the rows whose Id or (case-insensitive) Name is `ref`."""
    ref = ref.strip()
    hits = frame[(frame[id_col] == ref) | (frame["Name"].str.lower() == ref.lower())]
    return [str(i) for i in hits[id_col]]


def check_changes(
    store: Store, vis: Visibility, as_of: datetime, changes: Sequence[Mapping[str, Any]]
) -> None:
    """A caller who does not see every deal may only name deals and owners they can see.
    A hidden deal gets the same answer as a missing one (no probing by name)."""
    if vis.sees_all:
        return
    snap = store.as_of(as_of)
    deals = snap.open_opportunities()
    users = snap.users()
    owner_of = dict(zip(deals["Id"].astype(str), deals["OwnerId"], strict=True))
    for n, change in enumerate(changes):
        if change.get("deal"):
            ids = _resolve(deals, str(change["deal"]))
            if not ids or not all(vis.can_see(owner_of.get(i)) for i in ids):
                raise BadFilter(
                    f"changes.{n}.deal",
                    f"change #{n + 1}: no open deal you can see with Id or name "
                    f"{change['deal']!r} as of the forecast date",
                )
        if change.get("owner"):
            ids = _resolve(users, str(change["owner"]))
            if len(ids) != 1 or not vis.can_see(ids[0]):
                raise BadFilter(
                    f"changes.{n}.owner",
                    f"change #{n + 1}: no user you can see with Id or name {change['owner']!r}",
                )


def scenario(
    store: Store,
    caller: Caller,
    as_of: datetime,
    changes: Sequence[Mapping[str, Any]],
    stages: StageConfig,
    *,
    name: str | None,
    kind: str,
    n_periods: int,
    seed: int,
    n_sims: int,
    fiscal_start_month: int,
) -> dict[str, Any]:
    vis = _visibility(store, caller, as_of)
    check_changes(store, vis, as_of, changes)
    try:
        out = run_scenario(
            store,
            as_of,
            changes,
            kind,
            n_periods,
            seed,
            stages,
            name=(name or "").strip() or "ad hoc",
            n_sims=n_sims,
            fiscal_start_month=fiscal_start_month,
            actor=actor_of(caller),
        )
    except ValueError as exc:
        raise BadFilter("changes", str(exc)) from None
    out["baseline"] = filter_payload(out["baseline"], vis)
    out["scenario"] = filter_payload(out["scenario"], vis)
    if not vis.sees_all:
        snap_deals = store.as_of(as_of).open_opportunities()
        owner_of = dict(zip(snap_deals["Id"].astype(str), snap_deals["OwnerId"], strict=True))
        out["drivers"] = [
            d
            for d in out["drivers"]
            if str(d["deal_id"]).startswith("scenario-")
            or vis.can_see(owner_of.get(str(d["deal_id"])))
        ]
    return out
