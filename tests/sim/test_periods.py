from __future__ import annotations

import itertools
from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from dealcast.sim.periods import period_index, periods_from


def test_weeks_are_iso_with_week_53() -> None:
    weeks = periods_from("2020-12-30", "week", 3)
    assert [w.label for w in weeks] == ["2020-W53", "2021-W01", "2021-W02"]
    assert weeks[0].start == date(2020, 12, 28) and weeks[0].end == date(2021, 1, 3)
    # 2026 also has 53 ISO weeks; its last day is in W53, the first days of 2027 too
    assert periods_from(date(2027, 1, 2), "week", 1)[0].label == "2026-W53"
    # ISO year differs from the calendar year at the other end too
    assert periods_from("2024-12-30", "week", 1)[0].label == "2025-W01"


def test_months_roll_over_the_year() -> None:
    months = periods_from(datetime(2025, 11, 25, 13, 0), "month", 4)
    assert [m.label for m in months] == ["2025-11", "2025-12", "2026-01", "2026-02"]
    assert months[3].start == date(2026, 2, 1) and months[3].end == date(2026, 2, 28)


def test_calendar_quarters() -> None:
    quarters = periods_from("2025-11-25", "quarter", 2)
    assert [(q.label, q.start, q.end) for q in quarters] == [
        ("2025-Q4", date(2025, 10, 1), date(2025, 12, 31)),
        ("2026-Q1", date(2026, 1, 1), date(2026, 3, 31)),
    ]


def test_fiscal_quarters_are_named_by_the_year_the_fiscal_year_ends() -> None:
    quarters = periods_from("2025-02-10", "quarter", 5, fiscal_start_month=2)
    assert [q.label for q in quarters] == ["2026-Q1", "2026-Q2", "2026-Q3", "2026-Q4", "2027-Q1"]
    assert (quarters[0].start, quarters[0].end) == (date(2025, 2, 1), date(2025, 4, 30))
    assert (quarters[3].start, quarters[3].end) == (date(2025, 11, 1), date(2026, 1, 31))
    # January belongs to the fiscal year that started the previous February
    assert periods_from("2026-01-15", "quarter", 1, fiscal_start_month=2)[0].label == "2026-Q4"
    # a July start: Jul-Sep 2025 is Q1 of fiscal 2026
    july = periods_from("2025-08-01", "quarter", 1, fiscal_start_month=7)[0]
    assert (july.label, july.start) == ("2026-Q1", date(2025, 7, 1))


def test_periods_are_contiguous() -> None:
    for kind in ("week", "month", "quarter"):
        ps = periods_from("2025-03-31", kind, 30, fiscal_start_month=11)
        assert all((b.start - a.end).days == 1 for a, b in itertools.pairwise(ps))


def test_bad_arguments_name_the_options() -> None:
    with pytest.raises(ValueError, match="week, month, quarter"):
        periods_from("2025-01-01", "year", 1)
    with pytest.raises(ValueError, match="1-12"):
        periods_from("2025-01-01", "quarter", 1, fiscal_start_month=13)
    with pytest.raises(ValueError, match=">= 1"):
        periods_from("2025-01-01", "month", 0)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        periods_from("soon", "month", 1)


def test_period_index_vectorised_with_gaps_and_missing() -> None:
    months = periods_from("2025-11-01", "month", 2)
    dates = pd.Series(
        pd.to_datetime(["2025-10-31", "2025-11-01", "2025-11-30", "2025-12-31", "2026-01-01"])
    )
    assert period_index(dates, months).tolist() == [-1, 0, 0, 1, -1]
    days = np.array(["2025-12-05", "NaT"], dtype="datetime64[D]")
    assert period_index(days, months).tolist() == [1, -1]
    assert period_index([date(2025, 11, 2), None], months).tolist() == [0, -1]
    assert period_index([date(2025, 11, 2)], []).tolist() == [-1]
    with pytest.raises(ValueError, match="non-overlapping"):
        period_index(["2025-11-02"], months[::-1])
