"""Named what-if scenarios: saved, audited, run beside the baseline.

`run_scenario` scores the pipeline once, forecasts it as is (the baseline) and with the
scenario's changes (`scenario_changes.apply_changes`) with the same seed, and returns both,
the per-period deltas, and the deals that drive the difference (largest change in expected
bookings over the periods). Both forecasts are stored as snapshots (the scenario's under its
name, so it never mixes into the baseline history); CRM data is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select

from dealcast.crm import audit, schema
from dealcast.crm.stages import StageConfig
from dealcast.crm.store import Store
from dealcast.sim.expectation import expected_matrix
from dealcast.sim.inputs import PipelineInputs, load_inputs
from dealcast.sim.montecarlo import DEFAULT_LEVELS
from dealcast.sim.periods import Period, periods_from
from dealcast.sim.pipeline import check_request, payload_for
from dealcast.sim.scenario_changes import apply_changes
from dealcast.sim.snapshots import save_forecast

MONEY = ("closed_won", "expected", "p10", "p50", "p90", "deterministic")
TOP_DRIVERS = 10


def save_scenario(
    store: Store, name: str, changes: Sequence[Mapping[str, Any]], *, actor: str = "system"
) -> None:
    """Create or replace a named scenario (validated against today's pipeline first)."""
    name = name.strip()
    if not name:
        raise ValueError("a scenario needs a name")
    if not changes:
        raise ValueError("a scenario needs at least one change")
    spec = {"changes": [dict(c) for c in changes]}
    now = datetime.now(UTC).replace(tzinfo=None)
    t = schema.scenario
    with store.engine.begin() as conn:
        exists = conn.execute(select(t.c.name).where(t.c.name == name)).first()
        if exists:
            conn.execute(t.update().where(t.c.name == name).values(spec=spec, updated_at=now))
        else:
            conn.execute(
                t.insert().values(
                    name=name, spec=spec, created_by=actor, created_at=now, updated_at=now
                )
            )
        audit.append(
            conn,
            actor=actor,
            action="scenario_saved",
            subject=name,
            inputs_hash=audit.hash_inputs(spec),
            outputs={"changes": len(changes), "replaced": bool(exists)},
        )


def load_scenario(store: Store, name: str) -> list[dict[str, Any]]:
    t = schema.scenario
    with store.engine.connect() as conn:
        row = conn.execute(select(t.c.spec).where(t.c.name == name)).first()
        if row is None:
            names = [r[0] for r in conn.execute(select(t.c.name).order_by(t.c.name))]
            raise ValueError(f"no saved scenario {name!r}; saved: {', '.join(names) or 'none'}")
    return list(row[0]["changes"])


def list_scenarios(store: Store) -> list[dict[str, Any]]:
    t = schema.scenario
    with store.engine.connect() as conn:
        rows = conn.execute(select(t).order_by(t.c.name)).mappings().all()
    return [dict(r) for r in rows]


def _drivers(
    base: PipelineInputs, scen: PipelineInputs, periods: Sequence[Period]
) -> list[dict[str, Any]]:
    def per_deal(inp: PipelineInputs) -> dict[str, np.ndarray]:
        m = expected_matrix(
            inp.open_deals(), periods, inp.timing, inp.ratio, inp.correlation, inp.as_of.date()
        )
        return dict(zip(inp.deals["Id"], m, strict=True))

    a, b = per_deal(base), per_deal(scen)
    names = dict(zip(base.deals["Id"], base.deals["Name"], strict=True))
    names |= dict(zip(scen.deals["Id"], scen.deals["Name"], strict=True))
    zero = np.zeros(len(periods))
    rows = []
    for deal in a.keys() | b.keys():
        delta = b.get(deal, zero) - a.get(deal, zero)
        if np.abs(delta).sum() > 0.005:
            rows.append(
                {
                    "deal_id": deal,
                    "name": names[deal],
                    "change": "added"
                    if deal not in a
                    else "removed"
                    if deal not in b
                    else "changed",
                    "expected_delta": {
                        p.label: float(d) for p, d in zip(periods, delta, strict=True)
                    },
                    "total_delta": float(delta.sum()),
                }
            )
    rows.sort(key=lambda r: (-abs(r["total_delta"]), r["deal_id"]))
    return rows[:TOP_DRIVERS]


def run_scenario(
    store: Store,
    as_of: datetime,
    changes: Sequence[Mapping[str, Any]],
    kind: str,
    n_periods: int,
    seed: int,
    stages: StageConfig,
    *,
    name: str = "ad hoc",
    n_sims: int = 10_000,
    levels: Sequence[float] = DEFAULT_LEVELS,
    fiscal_start_month: int = 1,
    actor: str = "system",
) -> dict[str, Any]:
    check_request(kind, n_periods, n_sims)
    if not changes:
        raise ValueError("a scenario needs at least one change")
    base = load_inputs(store, as_of, fiscal_start_month=fiscal_start_month, actor=actor)
    scen = apply_changes(base, changes, stages)  # raises before anything is stored
    periods = periods_from(base.as_of, kind, n_periods, fiscal_start_month=fiscal_start_month)
    baseline = payload_for(base, periods, kind, seed, n_sims, levels, store)
    scenario = payload_for(scen, periods, kind, seed, n_sims, levels, store)
    save_forecast(store, baseline, actor=actor)
    save_forecast(store, scenario, actor=actor, scenario=name)
    deltas = []
    for b, s in zip(baseline["periods"], scenario["periods"], strict=True):
        row: dict[str, Any] = {"period": b["period"]}
        for key in MONEY:
            row[key] = None if b.get(key) is None or s.get(key) is None else s[key] - b[key]
        deltas.append(row)
    return {
        "name": name,
        "as_of": base.as_of,
        "changes": [dict(c) for c in changes],
        "baseline": baseline,
        "scenario": scenario,
        "deltas": deltas,
        "drivers": _drivers(base, scen, periods),
    }
