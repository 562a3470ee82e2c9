"""Widen the Monte Carlo interval by how far past forecasts of the same kind missed.

The simulation's interval holds only what its model knows is random: each deal's win, its
timing draw and amount, and the shared win-rate shock. Periods also move for reasons the
model does not see (a quarter where big deals bunch at its end, a month where they all
slip), so on its own the interval covers less than it claims. The correction is a split-
conformal scale fitted on past periods whose actuals are known at T:

- for each past period j: z_j = (actual - expected) / (high - expected) when the actual
  came in above, (expected - actual) / (expected - low) when below; z <= 1 is inside.
- k = the ceil((n + 1) x c) / n empirical quantile of the z_j, c the interval's nominal
  coverage (0.8 for P10-P90), never below 1: the interval is only ever widened.
- every level's distance from `expected` is multiplied by k (floored at what is already
  booked), so P10 <= P50 <= P90 still holds.

Past periods come from the backtest itself (earlier snapshots whose period ended by T, so
it stays point-in-time) or, for live forecasts, from the latest stored backtest run of the
same period kind. With fewer than `MIN_PERIODS` the interval is left as simulated and the
row says why.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

MIN_PERIODS = 4


@dataclass(frozen=True)
class PastPeriod:
    expected: float
    low: float  # the simulated (unwidened) interval
    high: float
    actual: float


@dataclass(frozen=True)
class IntervalScale:
    factor: float  # >= 1
    periods: int
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"factor": round(self.factor, 3), "periods": self.periods, "source": self.source}


def miss_ratio(p: PastPeriod) -> float:
    """How far outside (> 1) or inside (<= 1) the interval the actual landed."""
    if p.actual >= p.expected:
        span = p.high - p.expected
        return (
            0.0
            if p.actual == p.expected
            else (p.actual - p.expected) / span
            if span > 0
            else math.inf
        )
    span = p.expected - p.low
    return (p.expected - p.actual) / span if span > 0 else math.inf


def fit_scale(
    past: Sequence[PastPeriod], coverage: float, source: str, min_periods: int = MIN_PERIODS
) -> IntervalScale | None:
    """The conformal scale, or None with fewer than `min_periods` past periods."""
    if not 0 < coverage < 1:
        raise ValueError(f"coverage must be strictly between 0 and 1, got {coverage}")
    z = np.array([miss_ratio(p) for p in past], dtype=float)
    z = z[~np.isnan(z)]
    n = len(z)
    if n < min_periods:
        return None
    rank = min(n, math.ceil((n + 1) * coverage))  # 1-based
    k = float(np.sort(z)[rank - 1])
    if not math.isfinite(k):  # a past interval of zero width that missed: cannot scale it
        return None
    return IntervalScale(max(1.0, k), n, source)


def widen(row: dict[str, Any], scale: IntervalScale, level_keys: Sequence[str]) -> dict[str, Any]:
    """`row` with its level figures moved away from `expected` by the scale (in place)."""
    expected, floor = float(row["expected"]), float(row.get("closed_won") or 0.0)
    row["interval_raw"] = {key: row[key] for key in level_keys}
    for key in level_keys:
        if row[key] is not None:
            row[key] = max(floor, expected + scale.factor * (float(row[key]) - expected))
    row["interval_calibration"] = scale.as_dict()
    return row
