"""Which of the timing model's distributions a deal's close is drawn from, and from which day.

A deal still ahead of its stated close date draws (actual - stated) in days from the deals
that, seen at a month start, were as big (`S`/`M`/`L`: the terciles of won deals' amounts)
and stated to close in the same month of their fiscal quarter (`m1`/`m2`/`m3`): deals stated
for the first two months of a quarter mostly land in its last month, big deals more so.

A deal whose stated close has passed (overdue) says little with that date: it is anchored at
the first day it can still close and draws (actual - that day) from the overdue deals seen
at the same point of a quarter (`o1`/`o2`/`o3`: the month the anchor falls in), by size.
Overdue deals seen at a quarter's start mostly wait for its end; at its last month they
mostly close within it.

Labels look like `L@m3` or `S@o1`; `TimingModel` adds the slip count and falls back from
thin buckets. Fitted in `timing_fit`, applied to the deals open at T in `inputs`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

SIZES = ("S", "M", "L")
_TICK = timedelta(microseconds=1)


def first_close_day(as_of: datetime) -> date:
    """The first day a deal open at T can still close: T's own day, or the next day when T
    is that day's last instant (a backtest's snapshot taken the instant before a period)."""
    return (as_of + _TICK).date()


def month_in_quarter(months: Any, fiscal_start_month: int) -> npt.NDArray[np.int64]:
    return (np.asarray(months, dtype=np.int64) - fiscal_start_month) % 3 + 1


@dataclass(frozen=True)
class TimingGroups:
    size_cuts: tuple[float, float]  # amounts at or above cut 0 are M, at or above cut 1 L
    fiscal_start_month: int = 1

    def __post_init__(self) -> None:
        low, high = self.size_cuts
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise ValueError(f"size cuts must be finite and ordered, got {self.size_cuts}")

    def sizes(self, amount: Any) -> npt.NDArray[np.str_]:
        values = pd.to_numeric(pd.Series(amount), errors="coerce").fillna(0.0).to_numpy(float)
        return np.where(
            values >= self.size_cuts[1], "L", np.where(values >= self.size_cuts[0], "M", "S")
        )

    def label(
        self, stated_close: Any, amount: Any, first_day: date | Any
    ) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.datetime64]]:
        """(group label, anchor day) per deal open on `first_day` (one day, or one per deal):
        its stated close date, or `first_day` when that has passed."""
        close = pd.to_datetime(pd.Series(stated_close)).to_numpy("datetime64[D]")
        if isinstance(first_day, date):
            days = np.full(close.shape, np.datetime64(first_day, "D"))
        else:
            days = pd.to_datetime(pd.Series(first_day)).to_numpy("datetime64[D]")
        overdue = close < days
        in_quarter = [
            month_in_quarter(pd.DatetimeIndex(d).month.to_numpy(), self.fiscal_start_month)
            for d in (close, days)
        ]
        stated = np.char.add("m", in_quarter[0].astype(str))
        today = np.char.add("o", in_quarter[1].astype(str))
        groups = np.char.add(np.char.add(self.sizes(amount), "@"), np.where(overdue, today, stated))
        return groups, np.where(overdue, days, close)

    def to_dict(self) -> dict[str, Any]:
        return {"size_cuts": list(self.size_cuts), "fiscal_start_month": self.fiscal_start_month}
