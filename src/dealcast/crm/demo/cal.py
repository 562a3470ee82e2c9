"""Calendar helpers on integer time: epoch days and epoch seconds (UTC).

The sellers and buyers work US business hours, 13:00-22:30 UTC on weekdays; fiscal
quarters are calendar quarters.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import numpy as np

from dealcast.crm.demo.fmt import DAY

EPOCH = date(1970, 1, 1)
WORK_START = 13 * 3600  # 09:00 US Eastern
WORK_LEN = 9.5 * 3600


def to_day(d: date) -> int:
    return (d - EPOCH).days


def to_date(day: int) -> date:
    return EPOCH + timedelta(days=day)


def weekday(day: int) -> int:
    """Monday = 0 (1970-01-01 was a Thursday)."""
    return (day + 3) % 7


def next_workday(day: int) -> int:
    wd = (day + 3) % 7
    return day + (7 - wd if wd >= 5 else 0)


def prev_workday(day: int) -> int:
    wd = (day + 3) % 7
    return day - (wd - 4 if wd >= 5 else 0)


def work_ts(ts: int) -> int:
    """Move an instant into business hours of the same (or next working) day, keeping its
    relative position within the day; minute resolution."""
    day = ts // DAY
    frac = (ts - day * DAY) / DAY
    day = next_workday(day)
    return day * DAY + WORK_START + int(frac * WORK_LEN) // 60 * 60


def day_hours(ts: int) -> int:
    """Move an instant into business hours of the same calendar day; minute resolution."""
    day = ts // DAY
    return day * DAY + WORK_START + int((ts - day * DAY) / DAY * WORK_LEN) // 60 * 60


@lru_cache(maxsize=8192)
def quarter_end(day: int) -> int:
    d = to_date(day)
    last_month = (d.month - 1) // 3 * 3 + 3
    nxt = date(d.year + 1, 1, 1) if last_month == 12 else date(d.year, last_month + 1, 1)
    return to_day(nxt) - 1


@lru_cache(maxsize=8192)
def month_end(day: int) -> int:
    d = to_date(day)
    nxt = date(d.year + 1, 1, 1) if d.month == 12 else date(d.year, d.month + 1, 1)
    return to_day(nxt) - 1


def quarter_label(day: int) -> str:
    d = to_date(day)
    return f"Q{(d.month - 1) // 3 + 1}"


def quarter_ends(days: np.ndarray) -> np.ndarray:
    """Vectorised `quarter_end` for an int64 array of epoch days."""
    months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    first_of_next = (months - months % 3 + 3).astype("datetime64[M]").astype("datetime64[D]")
    return first_of_next.astype(np.int64) - 1


def next_workdays(days: np.ndarray) -> np.ndarray:
    wd = (days + 3) % 7
    return days + np.where(wd >= 5, 7 - wd, 0)


def work_times(ts: np.ndarray) -> np.ndarray:
    """Vectorised `work_ts` (values >= 2**62, meaning never, pass through)."""
    day = ts // DAY
    frac = (ts - day * DAY) / DAY
    moved = next_workdays(day) * DAY + WORK_START + (frac * WORK_LEN).astype(np.int64) // 60 * 60
    return np.where(ts >= 1 << 62, ts, moved)
