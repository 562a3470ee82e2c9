"""The interval scale of a live forecast, from the latest stored backtest of its period kind.

`dealcast backtest` stores every snapshot's expected and simulated interval. A forecast as
of T uses the rows of the newest run of the same kind and interval levels whose period
ended before T, each with its actual re-read as known at T (deals won by T), so nothing
after T is used even when the run was made later. See `interval_calibration` for the fit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, cast

import pandas as pd
from sqlalchemy import select

from dealcast.crm.schema import backtest_run
from dealcast.crm.store import Store
from dealcast.sim.interval_calibration import IntervalScale, PastPeriod, fit_scale
from dealcast.sim.timing_groups import first_close_day

BACKTESTED_KINDS = ("month", "quarter")
RUNS_TO_SEARCH = 20


def stored_scale(
    store: Store, kind: str, as_of: datetime, won_at_t: pd.DataFrame, levels: Sequence[float]
) -> tuple[IntervalScale | None, str | None]:
    """(scale, None), or (None, why there is none)."""
    if kind not in BACKTESTED_KINDS:
        return None, f"{kind} forecasts are not backtested: interval as simulated"
    low, high = min(levels), max(levels)
    newest = (
        select(backtest_run.c.id)
        .where(backtest_run.c.period_kind == kind)
        .order_by(backtest_run.c.id.desc())
        .limit(RUNS_TO_SEARCH)
    )
    today = first_close_day(as_of)
    with store.engine.connect() as conn:
        run_ids: list[int] = list(conn.execute(newest).scalars())
        for run_id in run_ids:  # their rows (JSON, large) one run at a time
            query = select(backtest_run.c.rows).where(backtest_run.c.id == run_id)
            rows = cast(list[dict[str, Any]], conn.execute(query).scalar_one() or [])
            past = _past(rows, low, high, today, won_at_t)
            if past is None:  # other interval levels: not comparable
                continue
            scale = fit_scale(past, high - low, f"backtest run {run_id}")
            if scale is not None:
                return scale, None
    return None, (
        f"no stored {kind} backtest with enough periods ended by {today:%Y-%m-%d} "
        f"(run `dealcast backtest --period {kind}`): interval as simulated"
    )


def _past(
    rows: list[dict[str, Any]], low: float, high: float, today: date, won: pd.DataFrame
) -> list[PastPeriod] | None:
    past = []
    for r in rows:
        interval = r.get("interval") or {}
        if [float(x) for x in interval.get("levels") or []] != [low, high]:
            return None
        raw = r.get("interval_raw") or interval  # runs before calibration stored raw ones
        start, end = date.fromisoformat(r["start"]), date.fromisoformat(r["end"])
        if end >= today or raw.get("low") is None:
            continue
        days = won["ClosedAt"].dt.date
        actual = float(won.loc[(days >= start) & (days <= end), "Amount"].fillna(0.0).sum())
        past.append(PastPeriod(float(r["forecast"]["ours"]), raw["low"], raw["high"], actual))
    return past
