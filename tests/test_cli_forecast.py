"""`dealcast forecast`, `scenario` and `quota` through the real CLI on the small demo org."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.demo_org import DemoOrg, copy_store
from tests.test_cli import run_cli

AS_OF = ["--as-of", "2026-06-30T23:59:59"]


@pytest.fixture
def db(demo_org: DemoOrg, tmp_path: Path) -> str:
    copy_store(demo_org.store, tmp_path / "cli.db").close()
    return str(tmp_path / "cli.db")


def test_forecast_json_with_quotas(
    demo_org: DemoOrg, db: str, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    users = demo_org.store.as_of(demo_org.as_of).users()
    reps = sorted(set(users["Id"]) - set(users["ManagerId"].dropna()))  # nobody's manager
    quotas = tmp_path / "quotas.csv"
    lines = ["QuotaOwnerId,StartDate,QuotaAmount"] + [f"{r},2026-07-01,100000" for r in reps]
    quotas.write_text("\n".join(lines) + "\n")
    code, _, err = run_cli(["quota", "load", str(quotas), "--db", db], capsys, monkeypatch)
    assert code == 0, err
    code, out, err = run_cli(
        [
            "forecast",
            "--period",
            "month",
            "--periods",
            "2",
            "--sims",
            "500",
            "--db",
            db,
            *AS_OF,
            "--format",
            "json",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    result = json.loads(out)
    june, july = result["periods"]
    assert (june["period"], july["period"]) == ("2026-06", "2026-07")
    # no manager has a quota of their own: the org's is the sum of the reps'
    assert june["quota"] is None and july["quota"] == 100_000 * len(reps)
    assert july["coverage"] == pytest.approx(july["expected"] / july["quota"])
    assert {"by_category", "by_owner", "by_manager", "p10", "p50", "p90"} <= set(july)
    assert result["run_id"] and result["model_version"]


def test_bad_quota_line_exits_2_naming_the_line(
    db: str, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    quotas = tmp_path / "q.csv"
    quotas.write_text("QuotaOwnerId,StartDate,QuotaAmount\n005NOBODY,2026-07-01,5\n")
    code, _, err = run_cli(["quota", "load", str(quotas), "--db", db], capsys, monkeypatch)
    assert code == 2 and "q.csv:2" in err and "unknown quota owner" in err


def test_scenario_run_save_list(demo_org: DemoOrg, db: str, capsys: Any, monkeypatch: Any) -> None:
    category = json.dumps({"op": "exclude_category", "category": "Pipeline"})
    code, out, err = run_cli(
        [
            "scenario",
            "run",
            "--name",
            "no-pipeline",
            "--save",
            "--change",
            category,
            "--period",
            "quarter",
            "--periods",
            "2",
            "--sims",
            "500",
            "--db",
            db,
            *AS_OF,
            "--format",
            "json",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    result = json.loads(out)
    assert all(d["expected"] <= 0 for d in result["deltas"])
    assert result["deltas"][1]["expected"] < 0 and result["drivers"]
    code, out, _ = run_cli(
        ["scenario", "list", "--db", db, "--format", "json"], capsys, monkeypatch
    )
    assert [s["name"] for s in json.loads(out)] == ["no-pipeline"]
    code, out, err = run_cli(
        ["scenario", "run", "--name", "no-pipeline", "--sims", "200", "--db", db, *AS_OF],
        capsys,
        monkeypatch,
    )
    assert code == 0 and "no-pipeline" in out and "Deals driving" in out
    bad = json.dumps({"op": "move", "deal": "006NOPE", "close_date": "2026-09-01"})
    code, _, err = run_cli(
        ["scenario", "run", "--change", bad, "--db", db, *AS_OF], capsys, monkeypatch
    )
    assert code == 2 and "no open deal" in err


def test_forecast_table_says_how_its_intervals_were_calibrated(
    db: str, capsys: Any, monkeypatch: Any
) -> None:
    forecast = ["forecast", "--period", "month", "--sims", "500", "--db", db, *AS_OF]
    code, out, err = run_cli(forecast, capsys, monkeypatch)
    assert code == 0, err
    assert "Intervals not calibrated: no stored month backtest" in " ".join(out.split())
    backtest = ["backtest", "--from", "2025-12-01", "--to", "2026-05-01", "--period", "month",
                "--scorer", "stage", "--sims", "200", "--db", db, "--format", "json"]  # fmt: skip
    code, out, err = run_cli(backtest, capsys, monkeypatch)
    assert code == 0, err
    run_id = json.loads(out)["run_id"]
    code, out, err = run_cli(forecast, capsys, monkeypatch)
    assert code == 0, err
    assert f"by how backtest run {run_id} missed over 6 periods" in " ".join(out.split())
