"""Exact expected bookings per deal and period under the Monte Carlo's own model.

The expectation of a sum is the sum of expectations, so a roll-up (owner, manager, forecast
category, the whole org) is a plain sum over its deals' rows of one (deals x periods) matrix:
roll-ups add up to the total exactly, with no simulation noise. The Monte Carlo is still
what gives the quantiles; a test checks that its mean agrees with this within noise.

Per deal and period: E = p_eff x amount x E[amount ratio] x P(close day in period), where
- P(close day in period) counts the deal's timing-table entries (the same 4096-point
  inverse-CDF tables the simulator indexes) from its tail start on (`tail_starts`: only
  offsets landing on or after today) that land in the period after the simulator's
  clipping: a day before the first period's start counts on that start, a day past the
  last period in none;
- p_eff = E_z[expit(logit p + z)], z ~ N(0, sigma^2) the shared shock (Gauss-Hermite, 40
  nodes: exact to float precision for the sigmas that occur), = p without correlation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from dealcast.sim.montecarlo import Correlation, OpenDeals, _resolve_buckets, tail_starts
from dealcast.sim.periods import Period, to_days
from dealcast.sim.timing import TABLE_SIZE, AmountRatio, TimingModel

F64 = npt.NDArray[np.float64]
HERMITE_NODES = 40


def effective_p(p: F64, correlation: Correlation | None) -> F64:
    """E[p'] under the shared log-odds shock (p itself when there is none)."""
    if correlation is None or correlation.sigma == 0:
        return p
    x, w = np.polynomial.hermite_e.hermegauss(HERMITE_NODES)
    w = w / w.sum()
    c = np.exp(correlation.sigma * x)  # odds multipliers at the nodes
    shocked = p[:, None] * c[None, :] / (p[:, None] * c[None, :] + (1 - p[:, None]))
    return np.asarray(shocked @ w, dtype=np.float64)


def period_probabilities(
    deals: OpenDeals, periods: Sequence[Period], timing: TimingModel, today: Any = None
) -> F64:
    """(deals, periods): P(the deal, if won, closes in the period) under the simulator's
    timing tables and clipping. Rows can sum to < 1 (closing after the last period)."""
    starts = to_days([p.start for p in periods])
    ends = to_days([p.end for p in periods])
    # a period starting on the first day of all takes the clipped (overdue) mass too: its
    # lower bound is open
    open_low = starts == starts.min()
    table = timing.quantile_table(TABLE_SIZE)
    buckets = _resolve_buckets(deals, timing)
    first = int(starts.min())
    today_days = first if today is None else int(to_days([today])[0])
    lo = tail_starts(deals, buckets, table, today_days)
    out = np.zeros((len(deals), len(periods)))
    for k in np.unique(buckets):
        rows = np.flatnonzero(buckets == k)
        close = deals.close[rows][:, None]
        low = lo[rows][:, None]
        # tail entries with close + offset <= bound, i.e. offset <= bound - close
        upto_end = np.searchsorted(table[k], ends[None, :] - close, side="right")
        before_start = np.searchsorted(table[k], starts[None, :] - 1 - close, side="right")
        before_start = np.where(open_low[None, :], 0, before_start)
        upto_end = np.maximum(upto_end, low)
        before_start = np.maximum(before_start, low)
        out[rows] = (upto_end - before_start) / (TABLE_SIZE - low)
    # a deal whose every tail entry is before today closes today (the simulator's clip)
    stuck = deals.close + table[buckets, -1] < today_days
    if stuck.any():
        day = _day(max(today_days, first))
        out[stuck] = 0.0
        for j, p in enumerate(periods):  # every kind's period holding that day
            if p.start <= day <= p.end:
                out[stuck, j] = 1.0
    return out


def expected_matrix(
    deals: OpenDeals,
    periods: Sequence[Period],
    timing: TimingModel,
    ratio: AmountRatio | None = None,
    correlation: Correlation | None = None,
    today: Any = None,
) -> F64:
    """(deals, periods) expected bookings; sum rows for any roll-up."""
    mean_ratio = float(np.mean((ratio or AmountRatio.identity()).quantile_table(TABLE_SIZE)))
    weight = effective_p(deals.p, correlation) * deals.amount * mean_ratio
    return period_probabilities(deals, periods, timing, today) * weight[:, None]


def _day(days: int) -> date:
    return date(1970, 1, 1) + timedelta(days=days)
