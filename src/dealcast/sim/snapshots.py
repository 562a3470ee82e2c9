"""Every generated forecast is kept: one `forecast_snapshot` row per period, with the full
period row (roll-ups included) as its payload, written with its audit entry in one
transaction. `snapshots` reads them back (the history and accuracy trackers use it)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select

from dealcast.crm import audit, schema
from dealcast.crm.store import Store
from dealcast.jsonable import to_jsonable


def save_forecast(
    store: Store, payload: dict[str, Any], *, actor: str, scenario: str | None = None
) -> str:
    """Store the forecast's periods and audit it; returns the run id (also set on payload)."""
    run_id = uuid.uuid4().hex
    now = datetime.now(UTC).replace(tzinfo=None)
    rows = []
    for p in payload["periods"]:
        rows.append(
            {
                "run_id": run_id,
                "created_at": now,
                "as_of": payload["as_of"],
                "actor": actor,
                "scenario": scenario,
                "period_kind": payload["period_kind"],
                "period": p["period"],
                "start": _date(p["start"]),
                "end": _date(p["end"]),
                "method": p["method"],
                "model_version": payload["model_version"],
                "seed": payload["seed"],
                "closed_won": p["closed_won"],
                "expected": p["expected"],
                "p10": p.get("p10"),
                "p50": p.get("p50"),
                "p90": p.get("p90"),
                "deterministic": p["deterministic"],
                "unreliable": p["unreliable"],
                "payload": to_jsonable(p),
            }
        )
    with store.engine.begin() as conn:
        conn.execute(schema.forecast_snapshot.insert(), rows)
        audit.append(
            conn,
            actor=actor,
            action="forecast" if scenario is None else "scenario_forecast",
            subject=f"{payload['period_kind']} x{len(rows)}" + (f" {scenario}" if scenario else ""),
            as_of=payload["as_of"],
            model_version=payload["model_version"],
            inputs_hash=audit.hash_inputs(
                {k: to_jsonable(payload.get(k)) for k in ("seed", "n_sims", "batch_id", "levels")}
            ),
            outputs={
                "run_id": run_id,
                "periods": [
                    {k: p.get(k) for k in ("period", "expected", "p10", "p90")}
                    for p in payload["periods"]
                ],
            },
        )
    payload["run_id"] = run_id
    return run_id


def snapshots(
    store: Store, period: str | None = None, *, include_scenarios: bool = False
) -> pd.DataFrame:
    """Stored forecast periods (oldest first), optionally for one period label."""
    t = schema.forecast_snapshot
    query = select(t).order_by(t.c.as_of, t.c.id)
    if period is not None:
        query = query.where(t.c.period == period)
    if not include_scenarios:
        query = query.where(t.c.scenario.is_(None))
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in t.columns])


def _date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
