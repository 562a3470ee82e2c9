"""Bookings from deals not yet created at T, learned from the same situation in the past.

For a period P and forecast time T, the component is what, in comparable past windows, was
won inside the window from deals created after the window's own "T": the window is P and T
shifted back by k period lengths (k = 1..LOOKBACK; weeks by 7 days, months by k months,
quarters by 3k months), keeping only windows that ended before T (point-in-time: nothing
after T is read). That one number folds creation and conversion rates together, at the
same lead time (a month starting today gets the created-and-won-within-a-month rate; next
quarter also gets deals created during this quarter).

The Monte Carlo adds one of those window values per simulation, drawn uniformly (a
bootstrap over windows), so the interval carries the component's own spread. Fewer than
MIN_WINDOWS usable windows: no component (zero), and the row says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import pandas as pd

from dealcast.sim.periods import Period

LOOKBACK = 8
MIN_WINDOWS = 3


@dataclass(frozen=True)
class NewPipeline:
    samples: list[npt.NDArray[np.float64]]  # per period: the past windows' values

    def expected(self) -> npt.NDArray[np.float64]:
        return np.array([s.mean() if len(s) else 0.0 for s in self.samples])

    def draw(self, n_sims: int, seed: int) -> npt.NDArray[np.float64]:
        """(periods, n_sims) bootstrap draws; zeros where there is no history."""
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x4E50]))
        out = np.zeros((len(self.samples), n_sims))
        for i, s in enumerate(self.samples):
            if len(s):
                out[i] = s[rng.integers(0, len(s), n_sims)]
        return out


def _shift(ts: pd.Timestamp, kind: str, k: int) -> pd.Timestamp:
    if kind == "week":
        return ts - pd.Timedelta(days=7 * k)
    return ts - pd.DateOffset(months=k * (3 if kind == "quarter" else 1))


def fit_new_pipeline(
    won: pd.DataFrame, as_of: datetime, periods: Sequence[Period], lookback: int = LOOKBACK
) -> NewPipeline:
    """`won`: deals won by T with Amount, CreatedDate and ClosedAt."""
    t = pd.Timestamp(as_of)
    created = pd.to_datetime(won["CreatedDate"])
    closed = pd.to_datetime(won["ClosedAt"])
    amount = won["Amount"].fillna(0.0).to_numpy(float)
    samples = []
    for period in periods:
        start, end = pd.Timestamp(period.start), pd.Timestamp(period.end) + pd.Timedelta(days=1)
        values = []
        for k in range(1, lookback + 1):
            t_k, s_k, e_k = (_shift(x, period.kind, k) for x in (t, start, end))
            if e_k > t:  # the window is not over by T: we cannot know its outcome
                continue
            inside = (closed >= max(s_k, t_k)) & (closed < e_k) & (created > t_k)
            values.append(float(amount[inside.to_numpy()].sum()))
        samples.append(np.array(values if len(values) >= MIN_WINDOWS else []))
    return NewPipeline(samples)
