"""The forecast tables on PostgreSQL: snapshots, quotas, scenarios, human calls, history,
what changed, rep accuracy and backtest-calibrated intervals (rules scorer: no training)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from dealcast.crm.export_import import import_export
from dealcast.crm.stages import STANDARD_STAGES
from dealcast.crm.store import Store
from dealcast.sim.backtest import backtest
from dealcast.sim.changes import what_changed
from dealcast.sim.forecast_history import history
from dealcast.sim.pipeline import forecast
from dealcast.sim.quotas import load_quotas
from dealcast.sim.rep_accuracy import accuracy
from dealcast.sim.scenarios import list_scenarios, run_scenario, save_scenario
from dealcast.sim.snapshots import snapshots
from dealcast.sim.submissions import current_calls, override, submit
from tests.demo_org import DemoOrg


def test_forecast_governance_on_postgres(store: Store, demo_org: DemoOrg, tmp_path: Path) -> None:
    import_export(store, demo_org.folder, actor="t", as_of=demo_org.as_of)
    users = store.as_of(demo_org.as_of).users()
    rep = next(
        u
        for u, m in zip(users["Id"], users["ManagerId"], strict=True)
        if m is not None and m in set(users["Id"])
    )
    manager = str(users.set_index("Id").loc[rep, "ManagerId"])
    quotas = tmp_path / "q.csv"
    quotas.write_text(f"QuotaOwnerId,StartDate,QuotaAmount\n{rep},2026-07-01,250000\n")
    assert load_quotas(store, quotas, actor="t") == 1

    first = forecast(store, demo_org.as_of, "quarter", 2, seed=5, n_sims=500)
    q3 = first["periods"][1]
    assert q3["period"] == "2026-Q3" and q3["quota"] == 250_000
    again = forecast(store, demo_org.as_of, "quarter", 2, seed=5, n_sims=500)
    assert again["periods"][1]["p90"] == q3["p90"]  # seeded: the same forecast
    assert len(snapshots(store, "2026-Q3")) == 2

    save_scenario(store, "no-pipeline", [{"op": "exclude_category", "category": "Pipeline"}])
    assert [s["name"] for s in list_scenarios(store)] == ["no-pipeline"]
    result = run_scenario(
        store,
        demo_org.as_of,
        [{"op": "exclude_category", "category": "Pipeline"}],
        "quarter",
        2,
        5,
        STANDARD_STAGES,
        name="no-pipeline",
        n_sims=500,
    )
    assert result["deltas"][1]["expected"] <= 0

    submit(store, "2026-Q3", "Commit", rep, 100_000, "two deals in legal", rep)
    override(store, "2026-Q3", "Commit", rep, 80_000, "legal is slow", manager)
    (call,) = [c for c in current_calls(store, "2026-Q3") if c.owner_id == rep]
    assert call.amount == 80_000
    moved = history(store, "2026-Q3")
    assert len(moved["forecasts"]) == 3 and moved["calls"]  # 2 + the scenario baseline

    waterfall = what_changed(store, "2026-Q2", demo_org.as_of - timedelta(days=30), demo_org.as_of)
    assert waterfall.reconciles()
    assert accuracy(store, demo_org.as_of)["rule"]

    # a stored backtest (JSON rows read back from PostgreSQL) calibrates later intervals
    run = backtest(store, "2025-12-01", "2026-05-01", "month", scorer="stage", n_sims=200,
                   actuals_as_of=demo_org.as_of)  # fmt: skip
    month = forecast(store, demo_org.as_of, "month", 1, seed=5, n_sims=500)
    assert month["interval_calibration"]["source"] == f"backtest run {run.run_id}"
    assert store.verify_audit().ok
