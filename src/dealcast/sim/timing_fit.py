"""Fit the timing model and the amount ratio on month-start cross-sections of won deals.

The question a forecast asks at T is "of the deals open now that will be won, when will
each close?", so the examples are exactly that situation in the past: at every month start
S of the last `HISTORY_YEARS` (S <= T), every deal open at S that was won by T, with its
stage-history state at S (stated close date, amount, slip count). Its group and anchor
(`TimingGroups.label` at S) and the day it actually closed give one example. Fitting on
every stage-history row instead over-weights deals with many edits and early stages, and
ignores that an overdue deal seen at a quarter's start behaves unlike one seen at its end.

Point-in-time: only deals won by T and history known at T are read. A deal open at S that
will be won after T is not seen yet, so recent cross-sections lean to quick closers; the
older ones, whose deals have mostly closed, carry the long tail.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from dealcast.sim.timing import AmountRatio, TimingModel
from dealcast.sim.timing_groups import TimingGroups, first_close_day

HISTORY_YEARS = 2
MIN_TIMING_ROWS = 30
CLOSED = ("Closed Won", "Closed Lost")


@dataclass(frozen=True)
class FittedTiming:
    timing: TimingModel
    ratio: AmountRatio
    groups: TimingGroups | None  # None: too little history, deals close on their stated date
    examples: int


def month_starts(as_of: datetime, years: int = HISTORY_YEARS) -> list[pd.Timestamp]:
    """Cross-section instants: the last instant before each of the last `years` x 12 month
    starts, oldest first, none after T."""
    first = pd.Timestamp(first_close_day(as_of)).to_period("M").to_timestamp()
    starts = [first - pd.DateOffset(months=k) for k in range(years * 12)]
    instants = [s - pd.Timedelta(microseconds=1) for s in starts]
    return sorted(i for i in instants if i <= pd.Timestamp(as_of))


def cross_sections(state: pd.DataFrame, history: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    """One row per (month start S, deal open at S and won by T): Snapshot (S), its stage-
    history row at S (StageName, Amount, CloseDate, SlipCount), ClosedAt and FinalAmount."""
    won = state[state["IsWon"] & state["ClosedAt"].notna()]
    won = won[won["ClosedAt"] <= pd.Timestamp(as_of)].set_index("Id")
    hist = history[history["OpportunityId"].isin(won.index)]
    hist = hist[["OpportunityId", "CreatedDate", "StageName", "Amount", "CloseDate", "SlipCount"]]
    grid = pd.DataFrame({"Snapshot": pd.to_datetime(month_starts(as_of)).astype("datetime64[ns]")})
    if hist.empty or grid.empty:
        return pd.DataFrame(columns=[*hist.columns, "Snapshot", "ClosedAt", "FinalAmount"])
    deals = pd.DataFrame({"OpportunityId": won.index, "ClosedAt": won["ClosedAt"].to_numpy()})
    pairs = deals.merge(grid, how="cross")
    pairs = pairs[pairs["ClosedAt"] > pairs["Snapshot"]].sort_values("Snapshot")
    rows = pd.merge_asof(
        pairs,
        hist.sort_values("CreatedDate").astype({"CreatedDate": "datetime64[ns]"}),
        left_on="Snapshot",
        right_on="CreatedDate",
        by="OpportunityId",
        direction="backward",
    )
    rows = rows.dropna(subset=["CreatedDate", "CloseDate"])  # not created yet at S, or no date
    rows = rows[~rows["StageName"].isin(CLOSED)]  # closed then reopened: not open at S
    rows = rows.assign(FinalAmount=rows["OpportunityId"].map(won["Amount"]).to_numpy(float))
    return rows.reset_index(drop=True)


def fit_timing(
    state: pd.DataFrame, history: pd.DataFrame, as_of: datetime, fiscal_start_month: int = 1
) -> FittedTiming:
    """`history` is a `history_with_slips` frame known at T."""
    rows = cross_sections(state, history, as_of)
    if len(rows) < MIN_TIMING_ROWS:
        return FittedTiming(TimingModel.exact(), AmountRatio.identity(), None, len(rows))
    final = rows.drop_duplicates("OpportunityId")["FinalAmount"].dropna()
    low, high = np.quantile(final, [1 / 3, 2 / 3]) if len(final) else (0.0, 0.0)
    groups = TimingGroups((float(low), float(high)), fiscal_start_month)
    # each section's first close day: the month start after its last instant
    first_days = (rows["Snapshot"] + pd.Timedelta(microseconds=1)).dt.normalize()
    label, anchor = groups.label(rows["CloseDate"], rows["Amount"], first_days)
    timing = TimingModel.fit(
        label,
        rows["SlipCount"].fillna(0).to_numpy(np.int64),
        anchor,
        rows["ClosedAt"].to_numpy("datetime64[D]"),
    )
    try:
        ratio = AmountRatio.fit(rows["Amount"].to_numpy(float), rows["FinalAmount"].to_numpy(float))
    except ValueError:
        ratio = AmountRatio.identity()
    return FittedTiming(timing, ratio, groups, len(rows))
