"""One forecast run over `PipelineInputs`: per period totals, intervals and roll-ups.

Per period:
- `closed_won`: bookings already won inside the period by T; added to every figure.
- `expected`: closed_won + the exact expectation of the open pipeline under the simulation's
  model (`expectation.expected_matrix`), so roll-ups add up to it with no noise.
- `p10`/`p50`/`p90` (the levels asked for): closed_won + Monte Carlo quantiles.
- `deterministic`: closed_won + Σ p × amount of deals whose stated close date is inside.
- `by_category`: per forecast category the deals stated to close inside, their amount,
  Σ p × amount and expected; `Closed` is what was won.
- `by_owner` / `by_manager` (teams via User.ManagerId, `rollups.teams`): the same money
  figures per person and team; their intervals come from the org simulation's own draws
  summed per owner (`montecarlo.simulate(groups=...)`; a team's are its members' summed draw
  by draw), so no extra simulations are run and a group is forecast as simulating it alone
  would in distribution; quota and coverage (expected ÷ quota) when quotas are given.
- `new_pipeline` (when asked): bookings expected from deals not created yet
  (`new_pipeline.py`), added to expected and the interval (not to deterministic); org level only,
  so roll-ups and categories cover booked + open deals and sum to expected - new_pipeline.
- `interval_calibration` (when a scale is given): the org-level levels widened by how far
  past forecasts of the same kind missed (`interval_calibration.py`); `interval_raw` keeps
  the simulated ones. Roll-up intervals stay as simulated.
If the simulation raises, the run falls back to the deterministic sum (`method:
"deterministic"`, no interval, flagged unreliable).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dealcast.sim.expectation import expected_matrix
from dealcast.sim.inputs import PipelineInputs
from dealcast.sim.interval_calibration import IntervalScale, widen
from dealcast.sim.montecarlo import DEFAULT_LEVELS, OpenDeals, simulate
from dealcast.sim.new_pipeline import NewPipeline, fit_new_pipeline
from dealcast.sim.periods import Period, period_index
from dealcast.sim.rollups import org_quota, period_quotas, team_quota, teams

UNRELIABLE_SPREAD = 0.30  # (p_high - p_low) / p50 above this: the interval is too wide
GROUP_SIMS = 2_000  # kept for callers: any value > 0 gives roll-up intervals, 0 none
CATEGORIES = ("Commit", "Best Case", "Pipeline")


def _key(level: float) -> str:
    return f"p{level * 100:g}"


def _levels(levels: Sequence[float]) -> tuple[float, ...]:
    out = sorted({float(x) for x in levels} | {0.5})
    if not all(0 < x < 1 for x in out):
        raise ValueError(f"levels must be strictly between 0 and 1, e.g. 0.1 0.5 0.9; got {levels}")
    return tuple(out)


@dataclass
class _Simulated:
    quantiles: np.ndarray  # (levels, periods) of the whole open pipeline (+ extra)
    group_totals: np.ndarray | None  # (groups, periods, sims) of the open deals per group


def _simulate(
    inputs: PipelineInputs,
    deals: OpenDeals,
    periods: Sequence[Period],
    seed: int,
    n_sims: int,
    levels: tuple[float, ...],
    extra: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> _Simulated | None:
    """Quantiles of the open pipeline (plus `extra` (periods, sims) draws, e.g.
    not-yet-created pipeline) and the totals per group code, or None if it failed."""
    try:
        result = simulate(
            deals,
            periods,
            inputs.timing,
            n_sims,
            seed,
            inputs.correlation,
            amount_ratio=inputs.ratio,
            levels=levels,
            today=inputs.as_of.date(),
            groups=groups,
        )
    except (ValueError, MemoryError, FloatingPointError):
        return None
    if extra is None or result.totals is None:
        return _Simulated(result.quantiles, result.group_totals)
    totals = result.totals + extra
    quantiles = np.quantile(totals, levels, axis=1).reshape(len(levels), len(periods))
    return _Simulated(quantiles, result.group_totals)


def _group_quantiles(
    sim: _Simulated | None,
    masks: dict[str, set[str]],
    owner_list: list[str],
    levels: tuple[float, ...],
    n_periods: int,
) -> dict[str, np.ndarray | None]:
    """(levels, periods) quantiles per group key, each group's totals summed over its
    owners' draws (None everywhere when there is no simulation)."""
    if sim is None or sim.group_totals is None:
        return dict.fromkeys(masks)
    by_owner = sim.group_totals
    code = {o: i for i, o in enumerate(owner_list)}
    out: dict[str, np.ndarray | None] = {}
    for key, members in masks.items():
        rows = [code[o] for o in members if o in code]
        if not rows:
            out[key] = np.zeros((len(levels), n_periods))
            continue
        totals = by_owner[rows].sum(axis=0)
        out[key] = np.quantile(totals, levels, axis=1).reshape(len(levels), n_periods)
    return out


def _money(
    i: int,
    mask: np.ndarray,
    won_mask: np.ndarray,
    ctx: dict[str, Any],
    quantiles: np.ndarray | None,
    levels: tuple[float, ...],
) -> dict[str, Any]:
    """The money figures of period i for the deals in `mask` (open) and `won_mask` (won)."""
    booked = float(ctx["won_amount"][won_mask & (ctx["won_period"] == i)].sum())
    stated = mask & (ctx["stated"] == i)
    category = ctx["category"]
    row: dict[str, Any] = {
        "closed_won": booked,
        "expected": booked + float(ctx["matrix"][mask, i].sum()),
        "deterministic": booked + float((ctx["weighted"][stated]).sum()),
    }
    for j, level in enumerate(levels):
        row[_key(level)] = None if quantiles is None else booked + float(quantiles[j, i])
    for name in CATEGORIES:
        in_category = stated & (category == name)
        row[name.lower().replace(" ", "_")] = float(ctx["amount"][in_category].sum())
    return row


def reliability(row: dict[str, Any], levels: tuple[float, ...]) -> tuple[bool, str | None]:
    low, high = row[_key(levels[0])], row[_key(levels[-1])]
    if row["p50"] is None:
        return True, "no interval: the simulation failed, deterministic sum shown"
    if row["p50"] <= 0:
        return True, "median forecast is zero"
    spread = (high - low) / row["p50"]
    if spread > UNRELIABLE_SPREAD:
        return True, (
            f"{_key(levels[0]).upper()}-{_key(levels[-1]).upper()} spans {spread:.0%} of the"
            f" median (over {UNRELIABLE_SPREAD:.0%})"
        )
    return False, None


def run_forecast(
    inputs: PipelineInputs,
    periods: Sequence[Period],
    *,
    seed: int,
    n_sims: int = 10_000,
    levels: Sequence[float] = DEFAULT_LEVELS,
    quotas: pd.DataFrame | None = None,
    rollups: bool = True,
    group_sims: int = GROUP_SIMS,
    new_pipeline: bool = False,
    interval_scale: IntervalScale | None = None,
) -> list[dict[str, Any]]:
    """One row per period; see the module docstring for every figure. `interval_scale`
    widens the org-level interval by how past forecasts missed (`interval_calibration`)."""
    lv = _levels(levels)
    fresh = (
        fit_new_pipeline(inputs.won, inputs.as_of, periods)
        if new_pipeline and "CreatedDate" in inputs.won
        else None
    )
    deals = inputs.open_deals()
    d, won = inputs.deals, inputs.won
    ctx: dict[str, Any] = {
        "matrix": expected_matrix(
            deals, periods, inputs.timing, inputs.ratio, inputs.correlation, inputs.as_of.date()
        ),
        "stated": period_index(deals.close, periods),
        "weighted": deals.p * deals.amount,
        "amount": deals.amount,
        "category": d["ForecastCategoryName"].fillna("Pipeline").to_numpy(str),
        "won_amount": won["Amount"].fillna(0.0).to_numpy(float),
        "won_period": period_index(won["ClosedAt"].dt.normalize().to_numpy(), periods),
    }
    extra = None if fresh is None else fresh.draw(n_sims, seed)
    owners = d["OwnerId"].to_numpy(str)
    owner_list, owner_code = np.unique(owners, return_inverse=True)
    want_groups = rollups and group_sims > 0
    sim = _simulate(
        inputs, deals, periods, seed, n_sims, lv, extra, owner_code if want_groups else None
    )
    quantiles = None if sim is None else sim.quantiles
    method = "deterministic" if quantiles is None else "monte_carlo"
    if quantiles is None:  # the deterministic sum everywhere: p x amount on the stated date
        ctx["matrix"] = np.zeros_like(ctx["matrix"])
        inside = ctx["stated"] >= 0
        ctx["matrix"][np.flatnonzero(inside), ctx["stated"][inside]] = ctx["weighted"][inside]
    all_open, all_won = np.ones(len(d), bool), np.ones(len(won), bool)
    won_owners = won["OwnerId"].to_numpy(str)
    names = dict(zip(inputs.users["Id"], inputs.users["Name"], strict=True))
    managers = dict(zip(inputs.users["Id"], inputs.users["ManagerId"], strict=True))
    team_of = teams(inputs.users)
    group_q: dict[str, np.ndarray | None] = {}
    if rollups:
        groups = {f"owner:{o}": {o} for o in set(owners) | set(won_owners)}
        groups |= {f"team:{m}": members for m, members in team_of.items()}
        group_q = _group_quantiles(
            sim if want_groups else None, groups, list(owner_list), lv, len(periods)
        )
    out = []
    for i, period in enumerate(periods):
        row: dict[str, Any] = {"period": period.label, "start": period.start, "end": period.end}
        row |= _money(i, all_open, all_won, ctx, quantiles, lv)
        row["new_pipeline"] = _new_pipeline(fresh, i, method)
        if row["new_pipeline"]:
            row["expected"] += row["new_pipeline"]["expected"]
        row["method"] = method
        if interval_scale is not None and method == "monte_carlo":
            widen(row, interval_scale, [_key(x) for x in lv])
        row["unreliable"], row["unreliable_reason"] = reliability(row, lv)
        row["by_category"] = _categories(i, ctx, row["closed_won"], won)
        own = period_quotas(quotas, period)
        row["quota"] = org_quota(inputs.users, own) if own else None
        row["coverage"] = _coverage(row["expected"], row["quota"])
        row["pipeline_coverage"] = _pipeline_coverage(row)
        if rollups:
            row["by_owner"] = [
                _with_quota(
                    {"owner_id": o, "name": names.get(o), "manager_id": _str(managers.get(o))}
                    | _money(i, owners == o, won_owners == o, ctx, group_q[f"owner:{o}"], lv),
                    own.get(o),
                )
                for o in sorted(set(owners) | set(won_owners))
            ]
            row["by_manager"] = []
            for m, members in sorted(team_of.items()):
                money = _money(
                    i,
                    np.isin(owners, list(members)),
                    np.isin(won_owners, list(members)),
                    ctx,
                    group_q[f"team:{m}"],
                    lv,
                )
                quota = team_quota(m, members, own, team_of) if own else None
                team = {"manager_id": m, "name": names.get(m), "team_size": len(members)}
                row["by_manager"].append(_with_quota(team | money, quota))
        out.append(row)
    return out


def _new_pipeline(fresh: NewPipeline | None, i: int, method: str) -> dict[str, Any] | None:
    """The not-yet-created component of period i: its mean, the past windows it is learned
    from, and whether the interval includes it (only a Monte Carlo run draws it)."""
    if fresh is None:
        return None
    windows = fresh.samples[i]
    return {
        "expected": float(windows.mean()) if len(windows) else 0.0,
        "windows": len(windows),
        "in_interval": method == "monte_carlo",
        "note": None if len(windows) else "too little history: not included",
    }


def _categories(
    i: int, ctx: dict[str, Any], booked: float, won: pd.DataFrame
) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {
        "Closed": {"deals": int((ctx["won_period"] == i).sum()), "amount": booked}
    }
    stated = ctx["stated"] == i
    names = list(CATEGORIES) + sorted(set(ctx["category"]) - set(CATEGORIES))
    for name in names:
        of_kind = ctx["category"] == name
        inside = stated & of_kind
        out[name] = {
            "deals": int(inside.sum()),
            "amount": float(ctx["amount"][inside].sum()),
            "weighted": float(ctx["weighted"][inside].sum()),
            "expected": float(ctx["matrix"][of_kind, i].sum()),
        }
    return out


def _coverage(expected: float, quota: float | None) -> float | None:
    return None if not quota else expected / quota


def _pipeline_coverage(row: dict[str, Any]) -> float | None:
    """Open pipeline stated to close in the period ÷ the quota still to close."""
    if not row["quota"]:
        return None
    gap = row["quota"] - row["closed_won"]
    open_amount = row["commit"] + row["best_case"] + row["pipeline"]
    return None if gap <= 0 else open_amount / gap


def _with_quota(row: dict[str, Any], quota: float | None) -> dict[str, Any]:
    """The roll-up row with its quota and coverage (expected ÷ quota) added."""
    return row | {"quota": quota, "coverage": _coverage(row["expected"], quota)}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
