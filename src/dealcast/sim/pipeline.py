"""`dealcast forecast`: calibrated deal scores + a timing model fitted on history -> Monte Carlo.

As of T: the open deals' calibrated win probabilities (the scorer, stored and audited), a
timing model fitted on the stage history of deals won before T (how far past the stated
close date they actually closed, by stage and slip count) and the won/snapshot amount ratio.
Bookings already won in a period by T are added to every figure of that period. If the
simulation fails, the deterministic sum is returned with `method: "deterministic"` and no
interval. First cut: categories, owner/manager roll-ups, quotas, snapshots, scenarios and
backtests are not wired yet.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from dealcast.crm import audit
from dealcast.crm.store import Store
from dealcast.ml.feature_inputs import history_with_slips
from dealcast.ml.scoring import score
from dealcast.sim.montecarlo import OpenDeals, deterministic, simulate
from dealcast.sim.periods import periods_from
from dealcast.sim.timing import AmountRatio, TimingModel

UNRELIABLE_SPREAD = 0.30  # (p90 - p10) / p50 above this: say the interval is too wide
HISTORY_YEARS = 2


def _fit(
    state: pd.DataFrame, history: pd.DataFrame, as_of: datetime
) -> tuple[TimingModel, AmountRatio]:
    won = state[state["IsWon"]].set_index("Id")
    since = pd.Timestamp(as_of) - pd.DateOffset(years=HISTORY_YEARS)
    rows = history[history["OpportunityId"].isin(won.index) & (history["CreatedDate"] >= since)]
    rows = rows[~rows["StageName"].isin(["Closed Won", "Closed Lost"])].dropna(subset=["CloseDate"])
    if len(rows) < 30:
        return TimingModel.exact(), AmountRatio.identity()
    closed = won.loc[rows["OpportunityId"], "ClosedAt"].to_numpy()
    timing = TimingModel.fit(
        rows["StageName"].to_numpy(),
        rows["SlipCount"].to_numpy(),
        rows["CloseDate"].to_numpy(),
        closed,
    )
    final_amount = won.loc[rows["OpportunityId"], "Amount"].to_numpy(float)
    try:
        ratio = AmountRatio.fit(rows["Amount"].to_numpy(float), final_amount)
    except ValueError:
        ratio = AmountRatio.identity()
    return timing, ratio


def forecast(
    store: Store,
    as_of: datetime,
    kind: str,
    n_periods: int,
    seed: int,
    *,
    n_sims: int = 10_000,
    actor: str = "system",
) -> dict[str, Any]:
    periods = periods_from(as_of, kind, n_periods)
    snap = store.as_of(as_of)
    state = snap.opportunities()
    history = history_with_slips(snap.history(), state)
    timing, ratio = _fit(state, history, snap.as_of)
    batch = score(store, snap.as_of, actor=actor)
    p = {d.opportunity_id: d.win_probability / 100.0 for d in batch.deals}
    open_deals = state[~state["IsClosed"] & state["Id"].isin(p)]
    slips = history.groupby("OpportunityId")["SlipCount"].last()
    deals = OpenDeals.build(
        p=open_deals["Id"].map(p).to_numpy(float),
        amount=open_deals["Amount"].fillna(0.0).to_numpy(float),
        close=open_deals["CloseDate"].to_numpy(),
        bucket=timing.buckets(
            open_deals["StageName"].to_numpy(), open_deals["Id"].map(slips).fillna(0).to_numpy(int)
        ),
    )
    try:
        result = simulate(deals, periods, timing, n_sims, seed, amount_ratio=ratio)
    except Exception:  # never leave a caller without a number: fall back, say so
        result = deterministic(deals, periods)
    won = state[state["IsWon"]]
    rows = []
    for i, row in enumerate(result.rows()):
        period = periods[i]
        in_period = (won["ClosedAt"].dt.date >= period.start) & (
            won["ClosedAt"].dt.date <= period.end
        )
        booked = float(won.loc[in_period, "Amount"].fillna(0.0).sum())
        out = {
            "period": row["label"],
            "start": row["start"],
            "end": row["end"],
            "closed_won": booked,
            "method": result.method,
            "expected": booked + row["expected"],
            "deterministic": booked + row["deterministic"],
        }
        for level in ("p10", "p50", "p90"):
            out[level] = booked + row[level] if result.method == "monte_carlo" else None
        out["unreliable"], out["unreliable_reason"] = _reliability(out)
        rows.append(out)
    payload = {
        "as_of": snap.as_of,
        "period_kind": kind,
        "seed": seed,
        "n_sims": n_sims,
        "model_version": batch.model_version,
        "open_deals": len(open_deals),
        "periods": rows,
    }
    store.record_audit(
        actor=actor,
        action="forecast",
        subject=f"{kind} x{n_periods}",
        as_of=snap.as_of,
        model_version=batch.model_version,
        inputs_hash=audit.hash_inputs({"seed": seed, "n_sims": n_sims, "batch": batch.batch_id}),
        outputs={
            "periods": [{k: r[k] for k in ("period", "expected", "p10", "p90")} for r in rows]
        },
    )
    return payload


def _reliability(row: dict[str, Any]) -> tuple[bool, str | None]:
    if row["p50"] is None:
        return True, "no interval: the simulation failed, deterministic sum shown"
    if row["p50"] <= 0:
        return True, "median forecast is zero"
    spread = (row["p90"] - row["p10"]) / row["p50"]
    if spread > UNRELIABLE_SPREAD:
        return True, f"P10-P90 spans {spread:.0%} of the median (over {UNRELIABLE_SPREAD:.0%})"
    return False, None
