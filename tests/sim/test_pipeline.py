"""`dealcast forecast` first cut, end to end on a small demo org."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dealcast.cli_ml import train_model
from dealcast.crm.store import Store
from dealcast.sim import engine, pipeline
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
