"""Timing groups, anchors and the month-start cross-section fit."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pytest

from dealcast.sim.expectation import period_probabilities
from dealcast.sim.montecarlo import OpenDeals
from dealcast.sim.periods import periods_from
from dealcast.sim.timing_fit import cross_sections, fit_timing, month_starts
from dealcast.sim.timing_groups import TimingGroups, first_close_day

T = datetime(2025, 6, 30, 23, 59, 59, 999999)  # the instant before July began


def test_first_close_day_is_the_next_day_only_at_a_days_last_instant() -> None:
    assert first_close_day(T) == date(2025, 7, 1)
    assert first_close_day(datetime(2025, 7, 1, 14, 0)) == date(2025, 7, 1)


def test_labels_by_size_and_month_in_quarter_and_anchors_overdue_deals_today() -> None:
    groups = TimingGroups((10_000.0, 50_000.0))
    labels, anchors = groups.label(
        pd.to_datetime(["2025-07-15", "2025-08-31", "2025-09-30", "2025-06-20", "2025-03-31"]),
        [5_000.0, 10_000.0, 80_000.0, 60_000.0, None],
        date(2025, 7, 1),
    )
    assert labels.tolist() == ["S@m1", "M@m2", "L@m3", "L@o1", "S@o1"]
    assert anchors.astype("datetime64[D]").astype(str).tolist() == [
        "2025-07-15",
        "2025-08-31",
        "2025-09-30",
        "2025-07-01",  # overdue: anchored at the first day it can still close
        "2025-07-01",
    ]
    # a fiscal year starting in February: July is the third month of May-July
    fiscal = TimingGroups((10_000.0, 50_000.0), fiscal_start_month=2)
    labels, _ = fiscal.label(
        pd.to_datetime(["2025-07-15", "2025-06-01"]), [1.0, 1.0], date(2025, 7, 1)
    )
    assert labels.tolist() == ["S@m3", "S@o3"]
    with pytest.raises(ValueError, match="ordered"):
        TimingGroups((50_000.0, 10_000.0))


def test_month_starts_are_the_last_instants_before_each_month_never_after_t() -> None:
    starts = month_starts(T, years=1)
    assert len(starts) == 12
    assert starts[-1] == pd.Timestamp("2025-06-30 23:59:59.999999")
    assert starts[0] == pd.Timestamp("2024-07-31 23:59:59.999999")
    mid_month = month_starts(datetime(2025, 7, 10, 12), years=1)
    assert mid_month[-1] == pd.Timestamp("2025-06-30 23:59:59.999999")


def _org(extra_won_after_t: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    state = pd.DataFrame(
        {
            "Id": ["a", "b", "c", "d"],
            "IsWon": [True, False, True, True],
            "ClosedAt": pd.to_datetime(
                ["2025-04-15 10:00", "2025-05-02 10:00", "2025-03-20 10:00", "2025-08-01 10:00"]
            ),
            "Amount": [20_000.0, 5_000.0, 8_000.0, 90_000.0],
        }
    )
    history = pd.DataFrame(
        {
            "OpportunityId": ["a", "a", "a", "b", "c", "d"],
            "CreatedDate": pd.to_datetime(
                [
                    "2025-01-10 09:00",
                    "2025-02-20 09:00",  # pushed from Mar 31 to Apr 30 on Feb 20
                    "2025-04-15 10:00",  # the Closed Won row
                    "2025-02-01 09:00",
                    "2025-03-01 00:00",  # created exactly at a month start: seen from Mar 1
                    "2025-05-01 09:00",
                ]
            ),
            "StageName": [
                "Qualification",
                "Negotiation",
                "Closed Won",
                "Prospecting",
                "Proposal",
                "Proposal",
            ],
            "Amount": [18_000.0, 20_000.0, 20_000.0, 5_000.0, 8_000.0, 90_000.0],
            "CloseDate": pd.to_datetime(
                ["2025-03-31", "2025-04-30", "2025-04-15", "2025-05-31", "2025-03-28", "2025-07-31"]
            ),
            "SlipCount": [0, 1, 1, 0, 0, 0],
        }
    )
    if not extra_won_after_t:
        state.loc[state["Id"] == "d", "IsWon"] = True  # d is won, but only after T
    return state, history


def test_cross_sections_take_each_won_deals_state_at_every_month_start_it_was_open() -> None:
    state, history = _org()
    rows = cross_sections(state, history, T)
    got = {
        (r.OpportunityId, str(r.Snapshot.date()), str(r.CloseDate.date()), r.SlipCount)
        for r in rows.itertuples()
    }
    assert got == {
        ("a", "2025-01-31", "2025-03-31", 0),
        ("a", "2025-02-28", "2025-04-30", 1),  # the push on Feb 20 is known by Mar 1
        ("a", "2025-03-31", "2025-04-30", 1),
    }  # b was lost; c was created after the last instant of Feb and closed before Apr; d
    # closes after T: nothing of them
    assert set(rows["FinalAmount"]) == {20_000.0}


def test_fit_learns_that_deals_stated_early_in_a_quarter_close_at_its_end() -> None:
    # 2 years of deals, each seen open at a month start, stated for the 10th of the first
    # month of the next quarter and always closing on that quarter's last day
    rng = np.random.default_rng(0)
    rows = []
    state = []
    for i in range(400):
        created = pd.Timestamp("2023-07-05") + pd.Timedelta(days=int(rng.integers(0, 600)))
        quarter = (created + pd.offsets.QuarterBegin(startingMonth=1)).normalize()
        stated = quarter + pd.Timedelta(days=9)
        closed = quarter + pd.offsets.QuarterEnd(startingMonth=3) + pd.Timedelta(hours=10)
        amount = float(rng.choice([5_000, 30_000, 100_000]))
        rows.append((f"o{i}", created, "Proposal", amount, stated, 0))
        state.append((f"o{i}", True, closed, amount))
    history = pd.DataFrame(
        rows,
        columns=["OpportunityId", "CreatedDate", "StageName", "Amount", "CloseDate", "SlipCount"],
    )
    frame = pd.DataFrame(state, columns=["Id", "IsWon", "ClosedAt", "Amount"])
    as_of = datetime(2025, 6, 30, 23, 59, 59, 999999)
    frame = frame[frame["ClosedAt"] <= as_of]
    fitted = fit_timing(frame, history, as_of)
    assert fitted.groups is not None and fitted.examples >= 30
    july, august, september = periods_from(date(2025, 7, 1), "month", 3)
    labels, anchors = fitted.groups.label(
        pd.to_datetime(["2025-07-10"] * 3), [5_000.0, 30_000.0, 100_000.0], date(2025, 7, 1)
    )
    deals = OpenDeals.build(
        p=np.ones(3),
        amount=np.ones(3),
        close=anchors,
        bucket=fitted.timing.buckets(labels, np.zeros(3, int)),
    )
    share = period_probabilities(deals, [july, august, september], fitted.timing, date(2025, 7, 1))
    assert np.allclose(share[:, 0], 0.0) and np.allclose(share[:, 2], 1.0)


def test_fit_reads_nothing_won_after_t_and_falls_back_without_history() -> None:
    state, history = _org()
    early = fit_timing(state, history, datetime(2025, 3, 1))
    assert early.groups is None and early.examples < 30  # exact timing, identity ratio
    assert early.timing.keys == ("*|*",)
    before = cross_sections(state, history, T)
    state.loc[state["Id"] == "d", "ClosedAt"] = pd.Timestamp("2026-01-01")
    assert cross_sections(state, history, T).equals(before)
