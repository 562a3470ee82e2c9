"""Conformal widening of forecast intervals from past misses, and its point-in-time sources."""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import insert

from dealcast.crm.schema import backtest_run
from dealcast.crm.store import Store
from dealcast.sim.interval_calibration import (
    IntervalScale,
    PastPeriod,
    fit_scale,
    miss_ratio,
    widen,
)
from dealcast.sim.interval_history import stored_scale


def test_miss_ratio_is_the_distance_in_half_widths_on_the_side_the_actual_fell() -> None:
    assert miss_ratio(PastPeriod(100.0, 80.0, 140.0, 160.0)) == pytest.approx(1.5)  # above
    assert miss_ratio(PastPeriod(100.0, 80.0, 140.0, 90.0)) == pytest.approx(0.5)  # below
    assert miss_ratio(PastPeriod(100.0, 80.0, 140.0, 100.0)) == 0.0
    assert miss_ratio(PastPeriod(100.0, 100.0, 100.0, 101.0)) == math.inf


def test_scale_is_the_conformal_quantile_and_never_narrows() -> None:
    # misses of 0.2, 0.4, ..., 2.0 half-widths: with n = 10 and 80 % the rank is
    # ceil(11 * 0.8) = 9, so the 9th smallest: 1.8
    past = [PastPeriod(100.0, 50.0, 150.0, 100.0 + 10.0 * k) for k in range(1, 11)]
    scale = fit_scale(past, 0.8, "test")
    assert scale is not None and scale.factor == pytest.approx(1.8) and scale.periods == 10
    inside = [PastPeriod(100.0, 50.0, 150.0, 110.0)] * 6  # always well inside
    assert fit_scale(inside, 0.8, "test") == IntervalScale(1.0, 6, "test")
    assert fit_scale(past[:3], 0.8, "test") is None  # too few periods to say
    with pytest.raises(ValueError, match="between 0 and 1"):
        fit_scale(past, 80, "test")


def test_widen_moves_every_level_away_from_expected_keeping_order_and_bookings() -> None:
    row = {"expected": 100.0, "closed_won": 40.0, "p10": 70.0, "p50": 98.0, "p90": 130.0}
    widen(row, IntervalScale(2.0, 5, "test"), ["p10", "p50", "p90"])
    assert (row["p10"], row["p50"], row["p90"]) == (40.0, 96.0, 160.0)  # p10 floored at 40
    assert row["interval_raw"] == {"p10": 70.0, "p50": 98.0, "p90": 130.0}
    assert row["interval_calibration"] == {"factor": 2.0, "periods": 5, "source": "test"}


def _run_row(month: int, expected: float, low: float, high: float, stored_actual: float) -> dict:
    start = date(2026, month, 1)
    end = (pd.Timestamp(start) + pd.offsets.MonthEnd(0)).date()
    return {
        "period": f"2026-{month:02d}",
        "start": start.isoformat(),
        "end": end.isoformat(),
        "forecast": {"ours": expected},
        "actual": stored_actual,
        "interval": {"low": low * 2, "high": high * 2, "levels": [0.1, 0.9]},  # widened
        "interval_raw": {"low": low, "high": high},
    }


def test_live_scale_comes_from_the_newest_backtest_with_actuals_known_at_t(
    tmp_path: Path,
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    rows = [_run_row(m, 100.0, 80.0, 120.0, stored_actual=1e9) for m in range(1, 8)]
    with store.engine.begin() as conn:
        conn.execute(
            insert(backtest_run).values(
                created_at=datetime(2026, 9, 1), actor="t", period_kind="month",
                from_date=date(2026, 1, 1), to_date=date(2026, 7, 1), scorer="model",
                summary={}, rows=rows,
            )
        )  # fmt: skip
    # bookings known at T: 140 in Jan-Apr (a miss of 2 half-widths), 100 in May-Jul
    won = pd.DataFrame(
        {
            "ClosedAt": pd.to_datetime([f"2026-{m:02d}-15" for m in range(1, 8)]),
            "Amount": [140.0, 140.0, 140.0, 140.0, 100.0, 100.0, 100.0],
        }
    )
    t = datetime(2026, 5, 31, 23, 59, 59, 999999)  # May is over by T; June and July are not
    scale, why = stored_scale(store, "month", t, won, (0.1, 0.5, 0.9))
    assert why is None and scale is not None
    # Jan-May: four misses of 2.0 and a hit; the stored actuals (1e9) are not used
    assert scale.periods == 5 and scale.factor == pytest.approx(2.0)
    assert scale.source.startswith("backtest run ")
    # other interval levels are not comparable; weeks are never backtested
    none, why = stored_scale(store, "month", t, won, (0.05, 0.5, 0.95))
    assert none is None and "no stored month backtest" in (why or "")
    none, why = stored_scale(store, "week", t, won, (0.1, 0.5, 0.9))
    assert none is None and "not backtested" in (why or "")
    early = datetime(2026, 3, 31, 23, 59, 59, 999999)  # only Jan-Mar over: too few
    assert stored_scale(store, "month", early, won, (0.1, 0.5, 0.9))[0] is None
