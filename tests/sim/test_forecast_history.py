"""Forecast history: stored AI snapshots and human calls of a period, over time."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from dealcast.crm.schema import forecast_snapshot
from dealcast.crm.store import Store
from dealcast.sim.forecast_history import history
from dealcast.sim.periods import parse_period
from dealcast.sim.submissions import override, submit
from tests.sim.test_changes import DEALS, MGR, R1, R2, built_db, copied


def _money(expected: float) -> dict[str, float]:
    return {
        "closed_won": 0.0,
        "expected": expected,
        "p10": expected * 0.8,
        "p50": expected,
        "p90": expected * 1.2,
        "commit": 0.0,
        "best_case": 0.0,
        "pipeline": 0.0,
        "quota": None,  # type: ignore[dict-item]
        "coverage": None,  # type: ignore[dict-item]
    }


def insert_snapshot(
    store: Store,
    period: str,
    as_of: datetime,
    expected: float,
    *,
    by_owner: dict[str, float] | None = None,
    by_manager: dict[str, float] | None = None,
    names: dict[str, str] | None = None,
    scenario: str | None = None,
    created_at: datetime | None = None,
    closed_won: float = 0.0,
) -> str:
    """One stored forecast period row in the engine's payload shape; returns its run id."""
    p = parse_period(period)
    names = names or {}
    run_id = uuid.uuid4().hex
    row: dict[str, Any] = {
        "period": p.label,
        "start": p.start.isoformat(),
        "end": p.end.isoformat(),
        "closed_won": closed_won,
        "expected": expected,
        "p10": expected * 0.8,
        "p50": expected,
        "p90": expected * 1.2,
        "deterministic": expected,
        "method": "monte_carlo",
        "unreliable": False,
        "unreliable_reason": None,
        "model_version": "1.0.0",
        "seed": 7,
        "quota": None,
        "coverage": None,
        "by_category": {
            "Closed": {"deals": 0, "amount": closed_won},
            **{
                c: {"deals": 0, "amount": 0.0, "weighted": 0.0, "expected": 0.0}
                for c in ("Commit", "Best Case", "Pipeline")
            },
        },
        "by_owner": [
            {"owner_id": o, "name": names.get(o, o), "manager_id": None, **_money(e)}
            for o, e in (by_owner or {}).items()
        ],
        "by_manager": [
            {"manager_id": m, "name": names.get(m, m), "team_size": 2, **_money(e)}
            for m, e in (by_manager or {}).items()
        ],
    }
    with store.engine.begin() as conn:
        conn.execute(
            insert(forecast_snapshot).values(
                run_id=run_id,
                created_at=created_at or as_of,
                as_of=as_of,
                actor="test",
                scenario=scenario,
                period_kind=p.kind,
                period=p.label,
                start=p.start,
                end=p.end,
                method="monte_carlo",
                model_version="1.0.0",
                seed=7,
                closed_won=closed_won,
                expected=expected,
                p10=row["p10"],
                p50=row["p50"],
                p90=row["p90"],
                deterministic=expected,
                unreliable=False,
                payload=row,
            )
        )
    return run_id


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("history")
    path = built_db(folder, deals={9: DEALS[9]}, predictions=False)
    store = Store.open(f"sqlite:///{path}")
    # inserted out of order on purpose: history orders by as_of
    insert_snapshot(
        store,
        "2025-Q4",
        datetime(2025, 11, 8),
        120.0,
        by_owner={R1: 70.0, R2: 50.0},
        by_manager={MGR: 120.0},
    )
    insert_snapshot(
        store,
        "2025-Q4",
        datetime(2025, 11, 1),
        100.0,
        by_owner={R1: 60.0, R2: 40.0},
        by_manager={MGR: 100.0},
    )
    insert_snapshot(store, "2025-Q4", datetime(2025, 11, 5), 999.0, scenario="big deal")
    insert_snapshot(store, "2026-Q1", datetime(2025, 11, 2), 555.0)
    submit(store, "2025-Q4", "Commit", R1, 50.0, "first", R1, at=datetime(2025, 11, 3))
    submit(store, "2025-Q4", "Commit", MGR, 90.0, "team", MGR, at=datetime(2025, 11, 4))
    override(store, "2025-Q4", "Commit", R1, 45.0, "cut", MGR, at=datetime(2025, 11, 9))
    submit(store, "2026-Q1", "Commit", R1, 1.0, "other period", R1, at=datetime(2025, 11, 3))
    store.close()
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> str:
    return copied(template, tmp_path)


def test_history_orders_forecasts_and_calls_by_time(db: str) -> None:
    store = Store.open(db)
    out = history(store, "2025-Q4")
    assert (out["period"], str(out["start"]), str(out["end"])) == (
        "2025-Q4",
        "2025-10-01",
        "2025-12-31",
    )
    fc = out["forecasts"]  # the scenario and the other period are left out
    assert [(f["as_of"].day, f["expected"], f["p10"], f["p90"]) for f in fc] == [
        (1, 100.0, 80.0, 120.0),
        (8, 120.0, 96.0, 144.0),
    ]
    assert [f["expected_change"] for f in fc] == [None, 20.0]
    assert [(c["owner_id"], c["amount"], c["change"]) for c in out["calls"]] == [
        (R1, 50.0, None),
        (MGR, 90.0, None),
        (R1, 45.0, -5.0),
    ]
    assert [(e["at"].day, e["kind"]) for e in out["timeline"]] == [
        (1, "forecast"),
        (3, "submission"),
        (4, "submission"),
        (8, "forecast"),
        (9, "override"),
    ]
    assert [(c["owner_id"], c["amount"]) for c in out["current"]] == [(MGR, 90.0), (R1, 45.0)]
    store.close()


def test_the_ai_number_sits_beside_each_call(db: str) -> None:
    store = Store.open(db)
    calls = history(store, "2025-Q4")["calls"]
    # rep: by_owner of the latest snapshot known at the call; manager: by_manager
    assert [c["ai_expected"] for c in calls] == [60.0, 100.0, 70.0]
    store.close()


def test_history_survives_a_restart(db: str) -> None:
    first = Store.open(db)
    before = history(first, "2025-Q4")
    submit(first, "2025-Q4", "Best Case", R2, 80.0, "after restart", R2, at=datetime(2025, 11, 10))
    first.close()
    reopened = Store.open(db)
    after = history(reopened, "2025-Q4")
    assert after["forecasts"] == before["forecasts"]
    assert after["calls"][:-1] == before["calls"]
    assert after["calls"][-1]["note"] == "after restart"
    assert reopened.verify_audit().ok
    reopened.close()


def test_a_period_without_anything_stored_has_an_empty_history(db: str) -> None:
    store = Store.open(db)
    out = history(store, "2024-W01")
    assert out["forecasts"] == out["calls"] == out["timeline"] == out["current"] == []
    with pytest.raises(ValueError, match="YYYY-MM"):
        history(store, "last quarter")
    store.close()
