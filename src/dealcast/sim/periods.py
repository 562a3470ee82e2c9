"""Forecast periods: ISO weeks, calendar months and fiscal quarters.

Labels: weeks `2025-W46` (ISO 8601 year and week, so 2021-01-01 is in `2020-W53`), months
`2025-11`, quarters `2025-Q4`.

Fiscal quarters: the fiscal year starts on the first day of `fiscal_start_month` and is named
after the calendar year in which it ENDS (the "ending month" convention). With start month 2,
Feb 2025 - Jan 2026 is fiscal 2026, so Feb-Apr 2025 is `2026-Q1` and Nov 2025 - Jan 2026 is
`2026-Q4`. With start month 1 fiscal and calendar years coincide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

PERIOD_KINDS = ("week", "month", "quarter")


@dataclass(frozen=True)
class Period:
    kind: str
    label: str
    start: date
    end: date  # inclusive


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError as exc:
        raise ValueError(f"as-of {value!r} is not a date (YYYY-MM-DD)") from exc


def _add_months(year: int, month: int, k: int) -> tuple[int, int]:
    total = year * 12 + (month - 1) + k
    return total // 12, total % 12 + 1


def _week(day: date, k: int) -> Period:
    start = day - timedelta(days=day.weekday()) + timedelta(weeks=k)
    iso = start.isocalendar()
    return Period("week", f"{iso.year}-W{iso.week:02d}", start, start + timedelta(days=6))


def _month(day: date, k: int) -> Period:
    y, m = _add_months(day.year, day.month, k)
    ny, nm = _add_months(y, m, 1)
    return Period("month", f"{y}-{m:02d}", date(y, m, 1), date(ny, nm, 1) - timedelta(days=1))


def _quarter(day: date, k: int, fiscal_start_month: int) -> Period:
    offset = (day.month - fiscal_start_month) % 12  # months since the fiscal year began
    fy_y, fy_m = _add_months(day.year, day.month, -offset)  # first month of the fiscal year
    q0 = offset // 3 + k  # quarters since the start of that fiscal year (may exceed 3)
    y, m = _add_months(fy_y, fy_m, 3 * q0)
    ny, nm = _add_months(y, m, 3)
    # fiscal year of this quarter = years since fy start, named by the year it ends in
    fiscal_year = fy_y + q0 // 4 + (0 if fiscal_start_month == 1 else 1)
    label = f"{fiscal_year}-Q{q0 % 4 + 1}"
    return Period("quarter", label, date(y, m, 1), date(ny, nm, 1) - timedelta(days=1))


def periods_from(
    as_of: date | datetime | str, kind: str, n: int, *, fiscal_start_month: int = 1
) -> list[Period]:
    """The period containing `as_of` and the next `n - 1` periods of `kind`, in order."""
    if kind not in PERIOD_KINDS:
        raise ValueError(f"period kind {kind!r} is not one of {', '.join(PERIOD_KINDS)}")
    if n < 1:
        raise ValueError(f"number of periods must be >= 1, got {n}")
    if not 1 <= fiscal_start_month <= 12:
        raise ValueError(f"fiscal start month must be 1-12, got {fiscal_start_month}")
    day = _as_date(as_of)
    if kind == "week":
        return [_week(day, k) for k in range(n)]
    if kind == "month":
        return [_month(day, k) for k in range(n)]
    return [_quarter(day, k, fiscal_start_month) for k in range(n)]


def to_days(dates: Any) -> npt.NDArray[np.int64]:
    """Dates (array-like of dates, strings, datetime64 or Timestamps) as days since 1970-01-01;
    missing values become the int64 minimum, which falls outside every period."""
    arr = np.asarray(dates)
    if arr.dtype.kind != "M":
        import pandas as pd  # only for parsing mixed/object inputs

        arr = pd.to_datetime(pd.Series(arr.ravel())).to_numpy().reshape(arr.shape)
    return arr.astype("datetime64[D]").astype(np.int64)


def period_index(dates: Any, periods: Sequence[Period]) -> npt.NDArray[np.int64]:
    """Position of each date in `periods` (sorted, non-overlapping), -1 when in none. Dates
    may also be int64 days since 1970-01-01, as `to_days` returns."""
    days = dates if isinstance(dates, np.ndarray) and dates.dtype == np.int64 else to_days(dates)
    return _index_days(days, periods)


def _index_days(days: npt.NDArray[np.int64], periods: Sequence[Period]) -> npt.NDArray[np.int64]:
    if not periods:
        return np.full(days.shape, -1, dtype=np.int64)
    starts = to_days([p.start for p in periods])
    ends = to_days([p.end for p in periods])
    if np.any(ends < starts) or np.any(starts[1:] <= ends[:-1]):
        raise ValueError("periods must be sorted, non-overlapping, each with start <= end")
    pos = np.searchsorted(starts, days, side="right") - 1
    inside = (pos >= 0) & (days <= ends[np.clip(pos, 0, None)])
    return np.where(inside, pos, -1).astype(np.int64)


def day_lookup(
    periods: Sequence[Period],
) -> tuple[int, npt.NDArray[np.int32]]:
    """A dense table (first day, period position per day from there, -1 in gaps) covering the
    periods: for many millions of dates a gather beats a binary search."""
    if not periods:
        return 0, np.full(1, -1, dtype=np.int32)
    first = int(to_days([periods[0].start])[0])
    last = int(to_days([periods[-1].end])[0])
    days = np.arange(first, last + 1, dtype=np.int64)
    return first, _index_days(days, periods).astype(np.int32)


PERIOD_LABEL_FORMATS = "YYYY-Www (ISO week), YYYY-MM (month) or YYYY-Qn (fiscal quarter)"


def parse_period(label: str, *, fiscal_start_month: int = 1) -> Period:
    """The period a label names (the inverse of the labels `periods_from` gives): `2025-W46`,
    `2025-11` or `2025-Q4` (fiscal quarters as in this module's docstring)."""
    text = str(label).strip().upper()
    if not 1 <= fiscal_start_month <= 12:
        raise ValueError(f"fiscal start month must be 1-12, got {fiscal_start_month}")
    try:
        year_text, rest = text.split("-", 1)
        year = int(year_text)
        if len(year_text) != 4 or not rest:
            raise ValueError
        if rest[0] == "W":
            period = _week(date.fromisocalendar(year, int(rest[1:]), 1), 0)
        elif rest[0] == "Q":
            quarter = int(rest[1:])
            if not 1 <= quarter <= 4:
                raise ValueError
            # fiscal year `year` ends in calendar `year`: it starts `fiscal_start_month` of
            # `year` when that is January, of `year - 1` otherwise
            fy_start_year = year if fiscal_start_month == 1 else year - 1
            y, m = _add_months(fy_start_year, fiscal_start_month, 3 * (quarter - 1))
            period = _quarter(date(y, m, 1), 0, fiscal_start_month)
        else:
            period = _month(date(year, int(rest), 1), 0)
    except ValueError as exc:
        raise ValueError(f"period {label!r} is not a label like {PERIOD_LABEL_FORMATS}") from exc
    if period.label != text:
        raise ValueError(f"period {label!r} is not a label like {PERIOD_LABEL_FORMATS}")
    return period
