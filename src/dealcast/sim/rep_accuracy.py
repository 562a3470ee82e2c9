"""Forecast accuracy by rep and manager, and the AI forecast's at the same moments.

For every period that has ended by `as_of` (its last day is over) and has Commit calls:
- actual: bookings won in the period (deals won at `as_of` whose ClosedAt falls in it),
  per owner; a manager's actual is their team's: the manager and everyone reporting to
  them, transitively (User.ManagerId), since a manager's call is their team's number;
- call: the owner's own last Commit submission made by the period's end (their number as
  they called it; managers' overrides of it are reported separately as `final`);
- final: the last Commit number of any kind (overrides included) made by the period's end;
- ai: `expected` for the same owner (`by_manager` for a manager, `by_owner` for a rep) from
  the latest baseline snapshot of the period with as_of at or before the call's time.

Metrics over an owner's periods (only periods with a call): accuracy = Σ call ÷ Σ actual
(1.0 is perfect; None when nothing was booked), bias = accuracy − 1 (negative:
under-calling), wape = Σ |call − actual| ÷ Σ actual, the same for `final` and `ai` (on
the periods that have them), and the count of periods called below / above actual.

Sandbagging rule: at least SANDBAG_MIN_PERIODS (3) ended periods with a Commit call, and the
call below actual in at least SANDBAG_SHARE (75%) of them. Over-calling is the mirror
(call above actual in >= 75% of >= 3 periods). Fewer periods: "insufficient history".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from dealcast.crm.pit import as_of_instant
from dealcast.crm.store import Store
from dealcast.sim.forecast_history import latest_at, stored_forecasts
from dealcast.sim.periods import PERIOD_KINDS, Period, parse_period
from dealcast.sim.submissions import calls, latest_by, manager_map, reports_of

SANDBAG_SHARE = 0.75
SANDBAG_MIN_PERIODS = 3


@dataclass(frozen=True)
class Point:
    """One owner's Commit call for one ended period, beside the AI and the actual."""

    owner_id: str
    period: str
    actual: float
    call: float | None
    call_at: datetime | None
    final: float | None
    ai: float | None
    ai_as_of: datetime | None


def _ratio(num: float, den: float) -> float | None:
    return num / den if den > 0 else None


def _score(pairs: list[tuple[float, float]]) -> dict[str, Any]:
    """Accuracy, bias and WAPE of (forecast, actual) pairs."""
    forecast = sum(f for f, _ in pairs)
    actual = sum(a for _, a in pairs)
    accuracy = _ratio(forecast, actual)
    return {
        "periods": len(pairs),
        "forecast": forecast,
        "actual": actual,
        "accuracy": accuracy,
        "bias": None if accuracy is None else accuracy - 1.0,
        "wape": _ratio(sum(abs(f - a) for f, a in pairs), actual),
    }


def pattern(under: int, over: int, n: int) -> str:
    """sandbagging | over-calling | balanced | insufficient history (rule in the docstring)."""
    if n < SANDBAG_MIN_PERIODS:
        return "insufficient history"
    if under >= SANDBAG_SHARE * n:
        return "sandbagging"
    if over >= SANDBAG_SHARE * n:
        return "over-calling"
    return "balanced"


def _pairs(points: list[Point], pick: Callable[[Point], float | None]) -> list[tuple[float, float]]:
    return [(v, p.actual) for p in points if (v := pick(p)) is not None]


def summarise(points: list[Point]) -> dict[str, Any]:
    """Metrics of one owner's points (see the module docstring)."""
    called = [p for p in points if p.call is not None]
    under = sum(1 for p in called if p.call is not None and p.call < p.actual)
    over = sum(1 for p in called if p.call is not None and p.call > p.actual)
    out = _score(_pairs(called, lambda p: p.call))
    out.update(
        {
            "under_calls": under,
            "over_calls": over,
            "pattern": pattern(under, over, len(called)),
            "sandbagging": pattern(under, over, len(called)) == "sandbagging",
            "final": _score(_pairs(points, lambda p: p.final)),
            "ai": _score(_pairs(called, lambda p: p.ai)),
        }
    )
    return out


def _actuals(store: Store, t: datetime, periods: list[Period]) -> dict[str, pd.Series]:
    """Won amount per owner per period label."""
    opps = store.as_of(t).opportunities()
    won = opps[opps["IsWon"]]
    day = won["ClosedAt"].dt.normalize()
    out = {}
    for p in periods:
        inside = won[(day >= pd.Timestamp(p.start)) & (day <= pd.Timestamp(p.end))]
        out[p.label] = inside.groupby("OwnerId")["Amount"].sum(min_count=1).fillna(0.0)
    return out


def points(
    store: Store,
    as_of: datetime | None = None,
    *,
    period_kind: str | None = None,
    fiscal_start_month: int = 1,
) -> list[Point]:
    """Every (owner, ended period) with a Commit call, oldest period first."""
    if period_kind is not None and period_kind not in PERIOD_KINDS:
        raise ValueError(f"period kind {period_kind!r} is not one of {', '.join(PERIOD_KINDS)}")
    t = as_of_instant(as_of) if as_of is not None else datetime.now(UTC).replace(tzinfo=None)
    rows = [c for c in calls(store) if c.category == "Commit"]
    periods = sorted(
        {parse_period(c.period, fiscal_start_month=fiscal_start_month) for c in rows},
        key=lambda p: (p.start, p.end),
    )
    periods = [
        p
        for p in periods
        if as_of_instant(p.end) <= t and (period_kind is None or p.kind == period_kind)
    ]
    actuals = _actuals(store, t, periods)
    managers = manager_map(store.as_of(t).users())
    out = []
    for p in periods:
        end = as_of_instant(p.end)
        in_period = [c for c in rows if c.period == p.label]
        own = latest_by(in_period, end, kind="submission")
        final = latest_by(in_period, end)
        forecasts = stored_forecasts(store, p.label)
        booked = actuals[p.label]
        for owner, category in sorted(final):
            call = own.get((owner, category))
            team = {owner} | reports_of(managers, owner)
            snap = latest_at(forecasts, call.created_at) if call else None
            out.append(
                Point(
                    owner_id=owner,
                    period=p.label,
                    actual=float(booked.reindex(list(team)).fillna(0.0).sum()),
                    call=call.amount if call else None,
                    call_at=call.created_at if call else None,
                    final=final[(owner, category)].amount,
                    ai=snap.owner_expected(owner) if snap else None,
                    ai_as_of=snap.as_of if snap else None,
                )
            )
    return out


def accuracy(
    store: Store,
    as_of: datetime | None = None,
    *,
    period_kind: str | None = None,
    fiscal_start_month: int = 1,
) -> dict[str, Any]:
    """{"as_of", "rule", "periods", "reps", "managers", "ai", "human", "points"}: each rep's
    and manager's accuracy, bias and pattern, and the AI's and humans' accuracy on the same
    rep-level points (managers left out there, so no booking counts twice)."""
    t = as_of_instant(as_of) if as_of is not None else datetime.now(UTC).replace(tzinfo=None)
    pts = points(store, t, period_kind=period_kind, fiscal_start_month=fiscal_start_month)
    users = store.as_of(t).users()
    names = dict(zip(users["Id"], users["Name"], strict=True))
    managers = manager_map(users)
    reps: list[dict[str, Any]] = []
    leads: list[dict[str, Any]] = []
    for owner in sorted({p.owner_id for p in pts}):
        mine = [p for p in pts if p.owner_id == owner]
        team = reports_of(managers, owner)
        row = {"owner_id": owner, "name": names.get(owner), "role": "manager" if team else "rep"}
        row.update(summarise(mine))
        if team:
            row["team_size"] = len(team)
        (leads if team else reps).append(row)
    rep_ids = {r["owner_id"] for r in reps}
    head = [p for p in pts if p.owner_id in rep_ids and p.call is not None and p.ai is not None]
    return {
        "as_of": t,
        "rule": {
            "sandbagging": f"Commit call below actual in >= {SANDBAG_SHARE:.0%} of at least "
            f"{SANDBAG_MIN_PERIODS} ended periods",
            "accuracy": "sum of calls / sum of actual bookings (1.0 = perfect)",
        },
        "periods": sorted({p.period for p in pts}),
        "reps": reps,
        "managers": leads,
        "ai": _score(_pairs(head, lambda p: p.ai)),
        "human": _score(_pairs(head, lambda p: p.call)),
        "points": [asdict(p) for p in pts],
    }
