"""Everything a forecast as of T needs, read point-in-time from the store.

- `deals`: the deals open at T with their stage, category, stated amount and close date as
  they were at T, their close-date slips so far, and a calibrated win probability `p` (0-1):
  the champion scorer's by default (scored, stored and audited), or the caller's (backtests
  pass a walk-forward model's; scenarios override some).
- `won`: deals won by T (bookings already in the bag).
- `users`: for owner names and the ManagerId hierarchy.
- `timing` / `ratio` / `timing_groups`: fitted on month-start cross-sections of deals won by
  T over the last two years (`timing_fit`): when deals open at a month start actually
  closed, grouped by size and by where the stated close date falls in its fiscal quarter;
  overdue deals by where today falls in it, anchored at today (`timing_groups`). The
  amount ratio is won amount / amount at the cross-section.
- `correlation`: the shared period-level shock, fitted on the quarterly win rates of deals
  closed before T (`fit_correlation`: the variance of logit win rates beyond what sampling
  noise explains); None with fewer than 3 usable quarters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import pandas as pd

from dealcast.crm.store import Store
from dealcast.ml.feature_inputs import history_with_slips
from dealcast.sim.montecarlo import Correlation, OpenDeals, fit_correlation
from dealcast.sim.timing import AmountRatio, TimingModel
from dealcast.sim.timing_fit import HISTORY_YEARS, fit_timing
from dealcast.sim.timing_groups import TimingGroups, first_close_day

MIN_GROUP_DEALS = 10  # fewer closed deals in a quarter or stage: no rate from it
DEAL_COLUMNS = [
    "Id",
    "Name",
    "AccountId",
    "OwnerId",
    "StageName",
    "ForecastCategoryName",
    "Amount",
    "CloseDate",
    "Probability",
    "CreatedDate",
]


@dataclass(frozen=True)
class PipelineInputs:
    as_of: datetime
    deals: pd.DataFrame  # DEAL_COLUMNS + p, SlipCount, bucket, TimingAnchor (with groups)
    won: pd.DataFrame  # Id, Name, OwnerId, Amount, CreatedDate, ClosedAt
    users: pd.DataFrame  # Id, Name, ManagerId
    timing: TimingModel
    ratio: AmountRatio
    correlation: Correlation | None
    model_version: str
    batch_id: str | None = None  # the stored score batch, when the champion scored
    fiscal_start_month: int = 1
    # share of deals that were ever at a stage and closed before T that were won (scenarios
    # move a deal's odds by the change in this when they move its stage)
    stage_win_rates: dict[str, float] = field(default_factory=dict)
    # how deals map to timing buckets and anchors; None: buckets as given, anchored at the
    # stated close date (deals built by hand, or too little history to fit groups)
    timing_groups: TimingGroups | None = None

    def open_deals(self) -> OpenDeals:
        d = self.deals
        anchor = d["TimingAnchor"] if "TimingAnchor" in d else d["CloseDate"]
        return OpenDeals.build(
            p=d["p"].to_numpy(float),
            amount=d["Amount"].fillna(0.0).to_numpy(float),
            close=anchor.to_numpy(),
            bucket=d["bucket"].to_numpy(np.int64),
        )

    def with_deals(self, deals: pd.DataFrame) -> PipelineInputs:
        """The same inputs over another deal table (scenarios); buckets are recomputed."""
        deals = assign_buckets(
            deals.reset_index(drop=True).copy(), self.timing, self.timing_groups, self.as_of
        )
        return replace(self, deals=deals)


def assign_buckets(
    deals: pd.DataFrame, timing: TimingModel, groups: TimingGroups | None, as_of: datetime
) -> pd.DataFrame:
    """`bucket` and `TimingAnchor` per deal (in place; returns `deals`)."""
    if groups is None:
        deals["bucket"] = np.full(len(deals), len(timing.keys) - 1, dtype=np.int64)
        deals["TimingAnchor"] = deals["CloseDate"]
        return deals
    labels, anchors = groups.label(deals["CloseDate"], deals["Amount"], first_close_day(as_of))
    deals["bucket"] = timing.buckets(labels, deals["SlipCount"].fillna(0).to_numpy(int))
    deals["TimingAnchor"] = pd.to_datetime(anchors).astype("datetime64[ns]")
    return deals


def fit_quarter_correlation(state: pd.DataFrame, as_of: datetime) -> Correlation | None:
    closed = state[state["IsClosed"] & state["ClosedAt"].notna()]
    since = pd.Timestamp(as_of) - pd.DateOffset(years=HISTORY_YEARS)
    closed = closed[closed["ClosedAt"] >= since]
    # only whole quarters: the running one would mix a partial quarter's noise in
    quarter = closed["ClosedAt"].dt.to_period("Q")
    closed = closed[quarter < pd.Timestamp(as_of).to_period("Q")]
    per = closed.groupby(quarter[closed.index])["IsWon"].agg(["mean", "size"])
    per = per[per["size"] >= MIN_GROUP_DEALS]
    if len(per) < 3:
        return None
    return fit_correlation(per["mean"].to_numpy(float), per["size"].to_numpy(float))


def stage_win_rates(state: pd.DataFrame, history: pd.DataFrame) -> dict[str, float]:
    closed = state[state["IsClosed"]].set_index("Id")["IsWon"]
    seen = history[history["OpportunityId"].isin(closed.index)][["OpportunityId", "StageName"]]
    seen = seen.drop_duplicates()
    won = seen["OpportunityId"].map(closed).astype(bool)
    rates = won.groupby(seen["StageName"]).agg(["mean", "size"])
    rates = rates[rates["size"] >= MIN_GROUP_DEALS]
    return {str(k): float(v) for k, v in rates["mean"].items()}


def load_inputs(
    store: Store,
    as_of: datetime,
    probabilities: Mapping[str, float] | None = None,
    model_version: str | None = None,
    *,
    actor: str = "system",
    score_missing: bool = False,
    fiscal_start_month: int = 1,
) -> PipelineInputs:
    """Inputs as of T. `probabilities` ({deal id: 0-1}) replaces the champion scorer; open
    deals it does not cover are left out (and so are deals without a stated close date),
    unless `score_missing`: then the champion scores them (stored and audited), so stored
    scores plus a rescore of the deals without one cover the whole pipeline."""
    snap = store.as_of(as_of)
    state = snap.opportunities()
    history = history_with_slips(snap.history(), state)
    fitted = fit_timing(state, history, snap.as_of, fiscal_start_month)
    batch_id = None
    if probabilities is not None and score_missing:
        open_ids = state.loc[~state["IsClosed"] & state["CloseDate"].notna(), "Id"]
        missing = [str(i) for i in open_ids if i not in probabilities]
        if missing:
            from dealcast.ml.scoring import score

            batch = score(store, snap.as_of, missing, actor=actor)
            fresh = {d.opportunity_id: d.win_probability / 100.0 for d in batch.deals}
            probabilities, batch_id = {**probabilities, **fresh}, batch.batch_id
    if probabilities is None:
        from dealcast.ml.scoring import score  # the scorer pulls in xgboost: only when used

        batch = score(store, snap.as_of, actor=actor)
        probabilities = {d.opportunity_id: d.win_probability / 100.0 for d in batch.deals}
        model_version, batch_id = batch.model_version, batch.batch_id
    deals = state[~state["IsClosed"] & state["Id"].isin(list(probabilities))][DEAL_COLUMNS].copy()
    deals = deals.dropna(subset=["CloseDate"]).reset_index(drop=True)
    deals["p"] = deals["Id"].map(probabilities).astype(float)
    slips = history.groupby("OpportunityId")["SlipCount"].last()
    deals["SlipCount"] = deals["Id"].map(slips).fillna(0).astype(int)
    deals = assign_buckets(deals, fitted.timing, fitted.groups, snap.as_of)
    won = state[state["IsWon"]][["Id", "Name", "OwnerId", "Amount", "CreatedDate", "ClosedAt"]]
    users = snap.users()[["Id", "Name", "ManagerId"]]
    return PipelineInputs(
        as_of=snap.as_of,
        deals=deals,
        won=won.reset_index(drop=True),
        users=users.reset_index(drop=True),
        timing=fitted.timing,
        ratio=fitted.ratio,
        correlation=fit_quarter_correlation(state, snap.as_of),
        model_version=model_version or "caller",
        batch_id=batch_id,
        stage_win_rates=stage_win_rates(state, history),
        fiscal_start_month=fiscal_start_month,
        timing_groups=fitted.groups,
    )
