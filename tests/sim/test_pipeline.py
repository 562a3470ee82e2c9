"""`dealcast forecast` first cut, end to end on a small demo org."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from dealcast.cli_ml import train_model
from dealcast.crm.store import Store
from dealcast.sim import engine, pipeline
from dealcast.sim.backtest import backtest
from tests.demo_org import DemoOrg, copy_store


@pytest.fixture
def store(demo_org: DemoOrg, tmp_path: Path) -> Store:
    copy = copy_store(demo_org.store, tmp_path / "f.db")
    train_model(copy, demo_org.as_of, "t")
    return copy


def test_forecast_is_seeded_ordered_and_audited(store: Store, demo_org: DemoOrg) -> None:
    first = pipeline.forecast(store, demo_org.as_of, "month", 3, seed=3, n_sims=2000)
    again = pipeline.forecast(store, demo_org.as_of, "month", 3, seed=3, n_sims=2000)
    other = pipeline.forecast(store, demo_org.as_of, "month", 3, seed=4, n_sims=2000)
    assert first["periods"] == again["periods"]
    assert first["periods"] != other["periods"]
    assert [p["period"] for p in first["periods"]] == ["2026-06", "2026-07", "2026-08"]
    for p in first["periods"]:
        assert p["method"] == "monte_carlo"
        assert p["closed_won"] <= p["p10"] <= p["p50"] <= p["p90"]
        assert p["expected"] >= p["closed_won"]
    assert first["periods"][0]["closed_won"] > 0  # June bookings before the as-of date
    entry = store.audit_entries(action="forecast")[0]
    assert entry.model_version == first["model_version"] == "1.0.0"


def test_failed_simulation_falls_back_to_the_deterministic_sum(
    store: Store,
    demo_org: DemoOrg,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise MemoryError("no room")

    monkeypatch.setattr(engine, "simulate", boom)
    result = pipeline.forecast(store, demo_org.as_of, "quarter", 1, seed=1, n_sims=100)
    (period,) = result["periods"]
    assert period["method"] == "deterministic" and period["p10"] is None
    assert period["unreliable"] and "deterministic" in period["unreliable_reason"]
    assert period["expected"] == period["deterministic"]


def test_month_intervals_are_widened_by_the_newest_stored_backtest(store: Store) -> None:
    as_of = datetime(2026, 6, 10, 12, 0)
    plain = pipeline.forecast(store, as_of, "month", 1, seed=2, n_sims=2000)
    assert plain["interval_calibration"]["factor"] == 1.0
    assert "dealcast backtest" in plain["interval_calibration"]["note"]
    run = backtest(store, "2025-12-01", "2026-05-01", "month", scorer="stage", n_sims=300,
                   actuals_as_of=as_of)  # fmt: skip
    widened = pipeline.forecast(store, as_of, "month", 1, seed=2, n_sims=2000)
    calibration = widened["interval_calibration"]
    assert calibration["source"] == f"backtest run {run.run_id}" and calibration["periods"] == 6
    (before,), (after,) = plain["periods"], widened["periods"]
    assert after["interval_raw"]["p90"] == pytest.approx(before["p90"])
    widening = (after["p90"] - after["expected"]) / (before["p90"] - before["expected"])
    assert widening == pytest.approx(calibration["factor"], abs=1e-3)  # the factor is rounded
    quarter = pipeline.forecast(store, as_of, "quarter", 1, seed=2, n_sims=2000)
    assert quarter["interval_calibration"]["factor"] == 1.0  # no quarterly backtest stored
