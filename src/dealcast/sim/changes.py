"""What changed in a period's pipeline and forecast between two instants (point-in-time).

`what_changed(store, period, since, until)` rebuilds every deal as it stood at `since` and at
`until` (`Store.as_of`) and explains the difference as a waterfall.

Measures, at an instant T (amounts in integer cents, so every sum is exact):
- pipeline(T) = Σ Amount of the deals open at T whose CloseDate at T is in the period;
- expected_i(T) = p × Amount for an open deal with CloseDate in the period, Amount for a
  deal won at T whose ClosedAt (the day it entered the won stage) is in the period (p = 1),
  0 otherwise (lost deals: p = 0; deals of other periods: not in this forecast). p is the
  latest stored prediction (`prediction.win_probability` / 100) with as_of <= T, else the
  deal's Salesforce Probability at T. Each deal's expected is rounded to the cent;
- forecast(T) = Σ expected_i(T) (the deterministic forecast, bookings included: the Monte
  Carlo expected differs from it by the timing model);
- closed_won(T) = Σ Amount of the deals won at T with ClosedAt in the period.

A deal is looked at when it is in the period at either instant (open with CloseDate in it,
or won with ClosedAt in it) or was lost by `until` with its CloseDate then in the period.
Each such deal goes to exactly ONE bucket, the first of these that applies (s = at `since`,
u = at `until`; "in" = open with CloseDate in the period):
  1. won          won at u, not won at s (created and won in between included)
  2. lost         lost at u, not lost at s
  3. pushed_out   in at s, open at u with CloseDate after the period end (slipped later)
  4. pulled_out   in at s, open at u with CloseDate before the period start (moved earlier)
  5. pulled_in    open at s with CloseDate outside the period, in at u
  6. new          in at u, and at s did not exist yet (created after `since`) or was closed
                  (reopened)
  7. category     existed at s, ForecastCategoryName differs (whatever else changed too)
  8. amount_up    existed at s, Amount higher at u
  9. amount_down  existed at s, Amount lower at u
 10. rescored     only p changed (a new prediction, or a stage move within the category)
 11. unchanged    nothing that moves the pipeline or the forecast (counted, not listed)
A deal's whole change lands in its bucket: a deal pushed out whose amount was also cut
counts in pushed_out only (with its full before/after). Each bucket's pipeline_change is
Σ (pipeline_i(u) - pipeline_i(s)) and forecast_change Σ (expected_i(u) - expected_i(s)) over
its deals, so start + Σ buckets = end holds exactly (in cents) for both measures: every
deal that changes either measure meets one of rules 1-10 (a deal leaving "in" is won, lost,
pushed_out or pulled_out; one entering is pulled_in or new; one staying in with a different
amount is category or amount_*; the rest differ only in p).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.pit import as_of_instant
from dealcast.crm.schema import prediction
from dealcast.crm.store import Store
from dealcast.sim.periods import Period, parse_period, periods_from

BUCKETS = {
    "won": "Won",
    "lost": "Lost",
    "pushed_out": "Pushed out (to a later period)",
    "pulled_out": "Moved to an earlier period",
    "pulled_in": "Pulled in",
    "new": "New",
    "category": "Forecast category changed",
    "amount_up": "Amount up",
    "amount_down": "Amount down",
    "rescored": "Probability changed",
}


@dataclass
class Bucket:
    key: str
    label: str
    deals: list[dict[str, Any]] = field(default_factory=list)
    pipeline_cents: int = 0
    forecast_cents: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "bucket": self.key,
            "label": self.label,
            "count": len(self.deals),
            "pipeline_change": self.pipeline_cents / 100,
            "forecast_change": self.forecast_cents / 100,
            "deals": self.deals,
        }


@dataclass
class Totals:
    at: datetime
    deals: int  # open deals in the period
    pipeline_cents: int
    closed_won_cents: int
    forecast_cents: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "deals": self.deals,
            "pipeline": self.pipeline_cents / 100,
            "closed_won": self.closed_won_cents / 100,
            "forecast": self.forecast_cents / 100,
        }


@dataclass
class Waterfall:
    period: Period
    since: datetime
    until: datetime
    start: Totals
    end: Totals
    buckets: list[Bucket]
    unchanged: int

    def reconciles(self) -> bool:
        """start + Σ buckets == end, exactly (cents), for the pipeline and the forecast."""
        pipe = self.start.pipeline_cents + sum(b.pipeline_cents for b in self.buckets)
        fc = self.start.forecast_cents + sum(b.forecast_cents for b in self.buckets)
        return pipe == self.end.pipeline_cents and fc == self.end.forecast_cents

    def bucket(self, key: str) -> Bucket:
        return next(b for b in self.buckets if b.key == key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period.label,
            "start_date": self.period.start,
            "end_date": self.period.end,
            "since": self.since,
            "until": self.until,
            "start": self.start.as_dict(),
            "end": self.end.as_dict(),
            "buckets": [b.as_dict() for b in self.buckets],
            "unchanged": self.unchanged,
            "reconciles": self.reconciles(),
        }


def _predictions(store: Store, ids: list[str], t: datetime) -> pd.Series:
    """Latest stored win probability (0-100) per deal with as_of <= t."""
    tab = prediction
    cols = (tab.c.opportunity_id, tab.c.as_of, tab.c.scored_at, tab.c.id, tab.c.win_probability)
    rows: list[Any] = []
    with store.engine.connect() as conn:
        for i in range(0, len(ids), IN_CHUNK):
            query = select(*cols).where(
                tab.c.opportunity_id.in_(ids[i : i + IN_CHUNK]), tab.c.as_of <= t
            )
            rows.extend(conn.execute(query).all())
    if not rows:
        return pd.Series(dtype=float)
    frame = pd.DataFrame(rows, columns=["opp", "as_of", "scored_at", "id", "p"])
    frame = frame.sort_values(["opp", "as_of", "scored_at", "id"])
    return frame.groupby("opp")["p"].last().astype(float)


def _state(store: Store, t: datetime, period: Period) -> pd.DataFrame:
    """Per deal at t: flags, cents and the p used, indexed by Id."""
    opps = store.as_of(t).opportunities().set_index("Id")
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    close = opps["CloseDate"].dt.normalize()
    closed_day = opps["ClosedAt"].dt.normalize()
    is_open = ~opps["IsClosed"]
    won = opps["IsWon"].astype(bool)
    lost = opps["IsClosed"] & ~won
    cents = (opps["Amount"].fillna(0.0) * 100).round().astype(np.int64)
    preds = _predictions(store, list(opps.index), t).reindex(opps.index)
    sf_p = opps["Probability"].astype(float)
    p = (preds.fillna(sf_p) / 100.0).where(is_open, won.astype(float))
    source = np.where(preds.notna(), "prediction", "salesforce")
    source = np.where(won, "won", np.where(lost, "lost", source))
    in_p = is_open & (close >= start) & (close <= end)
    won_in = won & (closed_day >= start) & (closed_day <= end)
    expected = np.where(in_p, (p * cents).round(), np.where(won_in, cents, 0)).astype(np.int64)
    return pd.DataFrame(
        {
            "name": opps["Name"],
            "owner_id": opps["OwnerId"],
            "stage": opps["StageName"],
            "category": opps["ForecastCategoryName"],
            "close": close,
            "closed_at": opps["ClosedAt"],
            "amount_cents": cents,
            "open": is_open,
            "won": won,
            "lost": lost,
            "p": p,
            "p_source": source,
            "in": in_p,
            "won_in": won_in,
            "pipe": np.where(in_p, cents, 0).astype(np.int64),
            "exp": expected,
        },
        index=opps.index,
    )


def _assign(s: pd.DataFrame, u: pd.DataFrame, period: Period) -> pd.Series:
    """The bucket of every deal in `u` (rule order as in the module docstring)."""
    existed = pd.Series(u.index.isin(s.index), index=u.index)
    s = s.reindex(u.index)
    f = {c: s[c].fillna(False).astype(bool) for c in ("open", "won", "lost", "in")}
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    amount_s = s["amount_cents"]
    rules = [
        ("won", u["won"] & ~f["won"]),
        ("lost", u["lost"] & ~f["lost"]),
        ("pushed_out", f["in"] & u["open"] & (u["close"] > end)),
        ("pulled_out", f["in"] & u["open"] & (u["close"] < start)),
        ("pulled_in", f["open"] & ~f["in"] & u["in"]),
        ("new", u["in"] & ~f["open"]),
        ("category", existed & (s["category"].fillna("") != u["category"].fillna(""))),
        ("amount_up", existed & (u["amount_cents"] > amount_s)),
        ("amount_down", existed & (u["amount_cents"] < amount_s)),
        ("rescored", u["exp"] != s["exp"].fillna(0)),
    ]
    keys = np.select([c.to_numpy(bool) for _, c in rules], [k for k, _ in rules], "unchanged")
    return pd.Series(keys, index=u.index)


def _side(row: pd.Series, period: Period, fiscal_start_month: int) -> dict[str, Any] | None:
    if pd.isna(row["stage"]):
        return None
    close = None if pd.isna(row["close"]) else row["close"].date()
    label = (
        periods_from(close, period.kind, 1, fiscal_start_month=fiscal_start_month)[0].label
        if close
        else None
    )
    return {
        "stage": row["stage"],
        "category": row["category"],
        "amount": int(row["amount_cents"]) / 100,
        "close_date": close,
        "close_period": label,
        "closed_at": None if pd.isna(row["closed_at"]) else row["closed_at"],
        "probability": round(float(row["p"]) * 100, 4),
        "probability_source": row["p_source"],
        "in_period": bool(row["in"]),
        "expected": int(row["exp"]) / 100,
    }


def _totals(state: pd.DataFrame, t: datetime) -> Totals:
    return Totals(
        at=t,
        deals=int(state["in"].sum()),
        pipeline_cents=int(state["pipe"].sum()),
        closed_won_cents=int(state["exp"][state["won_in"]].sum()),
        forecast_cents=int(state["exp"].sum()),
    )


def what_changed(
    store: Store,
    period: str | Period,
    since: datetime | date | str,
    until: datetime | date | str,
    *,
    fiscal_start_month: int = 1,
) -> Waterfall:
    """The pipeline and forecast waterfall of `period` from `since` to `until`."""
    p = (
        period
        if isinstance(period, Period)
        else parse_period(period, fiscal_start_month=fiscal_start_month)
    )
    t0, t1 = as_of_instant(since), as_of_instant(until)
    if t0 >= t1:
        raise ValueError(f"since ({t0:%Y-%m-%d %H:%M}) must be before until ({t1:%Y-%m-%d %H:%M})")
    s, u = _state(store, t0, p), _state(store, t1, p)
    start, end = pd.Timestamp(p.start), pd.Timestamp(p.end)
    s_aligned = s.reindex(u.index)
    lost_here = u["lost"] & (u["close"] >= start) & (u["close"] <= end)
    relevant = (
        u["in"] | u["won_in"] | lost_here | s_aligned["in"].fillna(False).astype(bool)
    ) | s_aligned["won_in"].fillna(False).astype(bool)
    keys = _assign(s, u, p)[relevant]
    users = store.as_of(t1).users()
    names = dict(zip(users["Id"], users["Name"], strict=True))
    buckets = {k: Bucket(k, label) for k, label in BUCKETS.items()}
    for deal_id in sorted(keys.index, key=lambda i: (keys[i], str(u.at[i, "name"]), i)):
        key = keys[deal_id]
        if key == "unchanged":
            continue
        after = u.loc[deal_id]
        before = s_aligned.loc[deal_id]
        pipe = int(after["pipe"]) - (0 if pd.isna(before["pipe"]) else int(before["pipe"]))
        fc = int(after["exp"]) - (0 if pd.isna(before["exp"]) else int(before["exp"]))
        bucket = buckets[key]
        bucket.pipeline_cents += pipe
        bucket.forecast_cents += fc
        bucket.deals.append(
            {
                "id": deal_id,
                "name": after["name"],
                "owner_id": after["owner_id"],
                "owner": names.get(after["owner_id"]),
                "before": _side(before, p, fiscal_start_month),
                "after": _side(after, p, fiscal_start_month),
                "pipeline_change": pipe / 100,
                "forecast_change": fc / 100,
            }
        )
    return Waterfall(
        period=p,
        since=t0,
        until=t1,
        start=_totals(s, t0),
        end=_totals(u, t1),
        buckets=list(buckets.values()),
        unchanged=int((keys == "unchanged").sum()),
    )
