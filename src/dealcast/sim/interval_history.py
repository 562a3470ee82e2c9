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
            levels_of = [[float(x) for x in r["interval"].get("levels") or []] for r in rows]
            if any(lv != [low, high] for lv in levels_of):  # other levels: not comparable
                continue
            scale = fit_scale(
                past_periods(rows, today, won_at_t), high - low, f"backtest run {run_id}"
            )
            if scale is not None:
                return scale, None
    return None, (
        f"no stored {kind} backtest with enough periods ended by {today:%Y-%m-%d} "
        f"(run `dealcast backtest --period {kind}`): interval as simulated"
    )


def past_periods(rows: list[dict[str, Any]], before: date, won: pd.DataFrame) -> list[PastPeriod]:
    """Backtest rows whose period ended before `before`, each with its actual re-read from
    `won` (the deals won by T, so the scale stays point-in-time)."""
    days = won["ClosedAt"].dt.date
    amount = won["Amount"].fillna(0.0)
    past = []
    for r in rows:
        raw = r.get("interval_raw") or r["interval"]  # runs before calibration stored raw ones
        start, end = date.fromisoformat(r["start"]), date.fromisoformat(r["end"])
        # a zero-width interval (nothing open, e.g. before the data began) says nothing
        # about how wide one should be
        if end >= before or raw.get("low") is None or raw["high"] <= raw["low"]:
            continue
        actual = float(amount[(days >= start) & (days <= end)].sum())
        past.append(PastPeriod(float(r["forecast"]["ours"]), raw["low"], raw["high"], actual))
    return past
