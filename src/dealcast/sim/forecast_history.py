"""How a period's forecast moved over time: every stored AI forecast and every human call.

`history(store, period)` reads the baseline forecast snapshots of the period (scenario
forecasts are left out) and the submissions and overrides for it, all from the database, so
it survives restarts and works for any past period. Ordering is by time of knowledge:
a forecast sits at its `as_of` (the instant its inputs were taken; ties by creation time),
a call at its `created_at`. Each call carries the AI number for the same owner from the
latest snapshot at or before the call (`by_manager` for a manager, `by_owner` for a rep),
so the AI is shown beside the human number, never instead of it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select

from dealcast.crm.schema import forecast_snapshot
from dealcast.crm.store import Store
from dealcast.sim.periods import Period, parse_period
from dealcast.sim.submissions import Call, calls, current_calls

FORECAST_FIELDS = (
    "expected",
    "p10",
    "p50",
    "p90",
    "closed_won",
    "deterministic",
    "method",
    "model_version",
    "unreliable",
)


@dataclass(frozen=True)
class StoredForecast:
    """One period row of one stored baseline forecast run."""

    id: int
    run_id: str
    created_at: datetime
    as_of: datetime
    period: str
    start: date
    end: date
    expected: float
    p10: float | None
    p50: float | None
    p90: float | None
    closed_won: float
    deterministic: float
    method: str
    model_version: str
    unreliable: bool
    payload: dict[str, Any]

    def owner_expected(self, owner_id: str) -> float | None:
        """This forecast's expected for an owner's number: the `by_manager` row of the team
        they lead (a manager's call is their team's number), else their `by_owner` row; None
        when the payload has neither."""
        for key, id_key in (("by_manager", "manager_id"), ("by_owner", "owner_id")):
            for row in self.payload.get(key) or []:
                if row.get(id_key) == owner_id and row.get("expected") is not None:
                    return float(row["expected"])
        return None


def stored_forecasts(store: Store, period: str) -> list[StoredForecast]:
    """Baseline snapshots of one period label, oldest knowledge first."""
    tab = forecast_snapshot
    query = (
        select(tab)
        .where(tab.c.period == period, tab.c.scenario.is_(None))
        .order_by(tab.c.as_of, tab.c.created_at, tab.c.id)
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    fields = StoredForecast.__dataclass_fields__
    return [StoredForecast(**{k: v for k, v in r.items() if k in fields}) for r in rows]


def latest_at(forecasts: list[StoredForecast], t: datetime) -> StoredForecast | None:
    """The most recent forecast (by as_of) known at `t`; `forecasts` oldest first."""
    known = [f for f in forecasts if f.as_of <= t]
    return known[-1] if known else None


def ai_beside(forecasts: list[StoredForecast], call: Call) -> float | None:
    snap = latest_at(forecasts, call.created_at)
    return None if snap is None else snap.owner_expected(call.owner_id)


def _forecast_row(f: StoredForecast, previous: StoredForecast | None) -> dict[str, Any]:
    row: dict[str, Any] = {"run_id": f.run_id, "as_of": f.as_of, "created_at": f.created_at}
    row.update({k: getattr(f, k) for k in FORECAST_FIELDS})
    row["expected_change"] = None if previous is None else f.expected - previous.expected
    return row


def history(store: Store, period: str | Period, *, fiscal_start_month: int = 1) -> dict[str, Any]:
    """Forecasts and calls of `period` over time: {"period", "start", "end", "forecasts",
    "calls", "timeline", "current"}; `timeline` merges both, ordered by time."""
    p = (
        period
        if isinstance(period, Period)
        else parse_period(period, fiscal_start_month=fiscal_start_month)
    )
    forecasts = stored_forecasts(store, p.label)
    forecast_rows = [
        _forecast_row(f, forecasts[i - 1] if i else None) for i, f in enumerate(forecasts)
    ]
    users = store.as_of(datetime.now(UTC).replace(tzinfo=None)).users()
    names = dict(zip(users["Id"], users["Name"], strict=True))
    call_rows = []
    for c in calls(store, p.label):
        row = c.as_dict()
        row["owner_name"] = names.get(c.owner_id)
        row["submitted_by_name"] = names.get(c.submitted_by)
        row["change"] = None if c.previous_amount is None else c.amount - c.previous_amount
        row["ai_expected"] = ai_beside(forecasts, c)
        call_rows.append(row)
    timeline: list[dict[str, Any]] = [
        {"at": r["as_of"], "kind": "forecast", **r} for r in forecast_rows
    ] + [{"at": r["created_at"], **r} for r in call_rows]
    # stable: forecasts before calls at the same instant, each list already in order
    timeline.sort(key=lambda e: e["at"])
    return {
        "period": p.label,
        "start": p.start,
        "end": p.end,
        "forecasts": forecast_rows,
        "calls": call_rows,
        "timeline": timeline,
        "current": [c.as_dict() for c in current_calls(store, p.label)],
    }
