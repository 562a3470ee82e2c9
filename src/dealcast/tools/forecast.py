"""Forecast tools: the Monte Carlo forecast of a period, what-if scenarios, what changed."""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg, tool

from dealcast.config import get_settings
from dealcast.crm.store import Store
from dealcast.jsonable import to_jsonable
from dealcast.sim.changes import what_changed as sim_what_changed
from dealcast.sim.inputs import PipelineInputs, load_inputs
from dealcast.sim.periods import periods_from
from dealcast.sim.pipeline import forecast_inputs
from dealcast.sim.scenarios import run_scenario
from dealcast.tools.cache import AsOfCache

MAX_BUCKET_DEALS = 5  # deals listed per what-changed bucket (counts and sums cover all)
SCALARS = (
    "period",
    "start",
    "end",
    "closed_won",
    "expected",
    "deterministic",
    "p10",
    "p50",
    "p90",
    "commit",
    "best_case",
    "pipeline",
    "method",
    "unreliable",
    "unreliable_reason",
    "quota",
    "coverage",
    "pipeline_coverage",
)
# Cached per (database, data version, hour) and arguments; see tools.cache. The pipeline
# (every open deal scored, timing fitted) is shared by every period kind and label; a
# forecast payload is shared by every owner/team scope (they are filtered from it).
PIPELINE: AsOfCache[PipelineInputs] = AsOfCache("pipeline inputs", maxsize=2)
FORECASTS: AsOfCache[dict[str, Any]] = AsOfCache("forecasts", maxsize=16)
SCENARIOS: AsOfCache[dict[str, Any]] = AsOfCache("what-if", maxsize=32, copy=copy.deepcopy)
CHANGES: AsOfCache[dict[str, Any]] = AsOfCache("what changed", maxsize=16, copy=copy.deepcopy)


def periods_needed(as_of: datetime, kind: str, label: str) -> int:
    """How many periods of `kind` from the one containing T reach `label` (ValueError when
    the label is in the past or too far out)."""
    fiscal = get_settings().fiscal_start_month
    labels = [p.label for p in periods_from(as_of, kind, 24, fiscal_start_month=fiscal)]
    if label not in labels:
        raise ValueError(
            f"can only forecast from the current {kind} ({labels[0]}) up to {labels[-1]}; "
            f"got {label}"
        )
    return labels.index(label) + 1


def pipeline_inputs(
    store: Store, as_of: datetime, fiscal_start_month: int, actor: str
) -> PipelineInputs:
    """`sim.inputs.load_inputs` as of T (the champion scores every open deal; stored and
    audited when computed), cached: its `as_of` says when. Shared: do not modify."""
    return PIPELINE.get(
        store,
        as_of,
        (fiscal_start_month,),
        lambda t: load_inputs(store, t, fiscal_start_month=fiscal_start_month, actor=actor),
    )


def _period_row(rows: Sequence[Mapping[str, Any]], label: str) -> Mapping[str, Any]:
    for row in rows:
        if row["period"] == label:
            return row
    raise ValueError(f"period {label} is not in the forecast")


def forecast_period_impl(
    store: Store,
    as_of: datetime,
    kind: str,
    label: str,
    *,
    owner_ids: Sequence[str] = (),
    manager_id: str | None = None,
    seed: int = 7,
    n_sims: int = 2_000,
    actor: str = "chat",
) -> dict[str, Any]:
    fiscal = get_settings().fiscal_start_month
    n = periods_needed(as_of, kind, label)
    payload = FORECASTS.get(
        store,
        as_of,
        (kind, n, seed, n_sims, fiscal, actor),
        lambda t: forecast_inputs(
            store,
            pipeline_inputs(store, t, fiscal, actor),
            kind,
            n,
            seed,
            n_sims=n_sims,
            fiscal_start_month=fiscal,
            actor=actor,
        ),
    )
    row = _period_row(payload["periods"], label)
    out: dict[str, Any] = {k: row.get(k) for k in SCALARS}
    out["by_category"] = row.get("by_category", {})
    owners = set(owner_ids)
    out["by_owner"] = [r for r in row.get("by_owner", []) if not owners or r["owner_id"] in owners]
    out["team"] = next(
        (r for r in row.get("by_manager", []) if manager_id and r["manager_id"] == manager_id),
        None,
    )
    out |= {
        "kind": kind,
        "as_of": payload["as_of"],
        "seed": seed,
        "n_sims": n_sims,
        "model_version": payload["model_version"],
        "open_deals": payload["open_deals"],
    }
    return to_jsonable(out)


@tool
def forecast_period(
    kind: str,
    label: str,
    store: Annotated[Any, InjectedToolArg],
    as_of: Annotated[datetime, InjectedToolArg],
    owner_ids: list[str] | None = None,
    manager_id: str | None = None,
    seed: Annotated[int, InjectedToolArg] = 7,
    n_sims: Annotated[int, InjectedToolArg] = 2_000,
) -> dict[str, Any]:
    """Monte Carlo bookings forecast for one period: kind `week`, `month` or `quarter` and
    its label (`2026-W27`, `2026-07`, `2026-Q3`), from the current period onwards. Returns
    closed won, expected, P10/P50/P90, commit/best case/pipeline amounts, quota coverage,
    per-owner rows (only `owner_ids` when given) and the team of `manager_id`."""
    return forecast_period_impl(
        store,
        as_of,
        kind,
        label,
        owner_ids=owner_ids or (),
        manager_id=manager_id,
        seed=seed,
        n_sims=n_sims,
    )


def what_if_impl(
    store: Store,
    as_of: datetime,
    changes: Sequence[Mapping[str, Any]],
    kind: str,
    label: str,
    *,
    seed: int = 7,
    n_sims: int = 2_000,
    actor: str = "chat",
) -> dict[str, Any]:
    fiscal = get_settings().fiscal_start_month
    n = periods_needed(as_of, kind, label)
    spec = json.dumps(to_jsonable(list(changes)), sort_keys=True)
    return SCENARIOS.get(
        store,
        as_of,
        (spec, kind, label, n, seed, n_sims, fiscal, actor),
        lambda t: _what_if(store, t, changes, kind, label, n, seed, n_sims, fiscal, actor),
    )


def _what_if(
    store: Store,
    as_of: datetime,
    changes: Sequence[Mapping[str, Any]],
    kind: str,
    label: str,
    n: int,
    seed: int,
    n_sims: int,
    fiscal: int,
    actor: str,
) -> dict[str, Any]:
    result = run_scenario(
        store,
        as_of,
        changes,
        kind,
        n,
        seed,
        store.stages,
        n_sims=n_sims,
        fiscal_start_month=fiscal,
        actor=actor,
    )
    periods = []
    for b, s, d in zip(
        result["baseline"]["periods"],
        result["scenario"]["periods"],
        result["deltas"],
        strict=True,
    ):
        periods.append(
            {
                "period": b["period"],
                "baseline": {k: b.get(k) for k in ("closed_won", "expected", "p10", "p50", "p90")},
                "scenario": {k: s.get(k) for k in ("closed_won", "expected", "p10", "p50", "p90")},
                "delta": {k: d.get(k) for k in ("expected", "p10", "p50", "p90")},
            }
        )
    from dealcast.tools.deals import load_directory

    known = {d["id"]: d["name"] for d in load_directory(store, result["as_of"])["deals"]}
    names = {str(c["deal"]): known[str(c["deal"])] for c in changes if str(c.get("deal")) in known}
    return to_jsonable(
        {
            "as_of": result["as_of"],
            "deal_names": names,
            "kind": kind,
            "label": label,
            "changes": result["changes"],
            "periods": periods,
            "drivers": result["drivers"],
            "seed": seed,
            "n_sims": n_sims,
        }
    )


@tool
def what_if(
    changes: list[dict[str, Any]],
    kind: str,
    label: str,
    store: Annotated[Any, InjectedToolArg],
    as_of: Annotated[datetime, InjectedToolArg],
    seed: Annotated[int, InjectedToolArg] = 7,
    n_sims: Annotated[int, InjectedToolArg] = 2_000,
) -> dict[str, Any]:
    """Run a what-if scenario beside the baseline forecast up to the period `label` (kind
    `week`/`month`/`quarter`). `changes` are dicts with an `op`: `move` (deal, close_date
    YYYY-MM-DD), `remove` (deal), `amount` (deal, amount), `stage` (deal, stage),
    `probability` (deal, 0-1), `add` (name, amount, close_date), `exclude_owner` (owner).
    CRM data is never changed. Returns baseline, scenario and deltas per period, and the
    deals that drive the difference."""
    return what_if_impl(store, as_of, changes, kind, label, seed=seed, n_sims=n_sims)


def what_changed_impl(
    store: Store, as_of: datetime, label: str, since: datetime | None = None
) -> dict[str, Any]:
    """Cached (tools.cache) per label and `since`; without `since`, a week before the
    instant it was computed as of (its `as_of`)."""
    fiscal = get_settings().fiscal_start_month
    return CHANGES.get(
        store,
        as_of,
        (label, since, fiscal),
        lambda t: _what_changed(store, t, label, since or t - timedelta(days=7), fiscal),
    )


def _what_changed(
    store: Store, as_of: datetime, label: str, since: datetime, fiscal: int
) -> dict[str, Any]:
    fall = sim_what_changed(store, label, since, as_of, fiscal_start_month=fiscal)
    out = fall.as_dict()
    for bucket in out["buckets"]:
        bucket["deals"] = sorted(
            bucket["deals"], key=lambda d: (-abs(d["pipeline_change"]), d["id"])
        )[:MAX_BUCKET_DEALS]
    return to_jsonable(out)


@tool
def what_changed(
    label: str,
    store: Annotated[Any, InjectedToolArg],
    as_of: Annotated[datetime, InjectedToolArg],
    since: str | None = None,
) -> dict[str, Any]:
    """What changed in the pipeline and forecast of period `label` (e.g. `2026-Q3`) between
    `since` (YYYY-MM-DD; default a week before the as-of time) and the as-of time: a
    waterfall of won, lost, pushed, pulled in, new, category and amount changes, with the
    deals behind each."""
    start = datetime.fromisoformat(since) if since else None
    return what_changed_impl(store, as_of, label, start)
