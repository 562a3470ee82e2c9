"""`dealcast forecast history|changes|submit|override|accuracy` through a local Typer app."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner, Result

from dealcast import cli_governance
from dealcast.crm.store import Store
from dealcast.jsonable import to_jsonable
from dealcast.sim.changes import what_changed
from dealcast.sim.submissions import NotAllowed
from tests.sim.test_changes import MGR, R1, R2, SINCE, UNTIL, built_db, copied
from tests.sim.test_forecast_history import insert_snapshot

runner = CliRunner()


@pytest.fixture
def app() -> typer.Typer:
    forecast_app = typer.Typer(pretty_exceptions_enable=False)
    cli_governance.register(forecast_app)
    return forecast_app


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = built_db(tmp_path_factory.mktemp("cli"))
    store = Store.open(f"sqlite:///{path}")
    insert_snapshot(store, "2025-Q4", datetime(2025, 11, 1), 100.0, by_owner={R1: 60.0})
    store.close()
    return path


@pytest.fixture
def db(template: Path, tmp_path: Path) -> str:
    return copied(template, tmp_path).removeprefix("sqlite:///")


def _run(app: typer.Typer, db: str, *args: str) -> Result:
    return runner.invoke(app, [*args, "--db", db])


def _json(app: typer.Typer, db: str, *args: str) -> Any:
    result = _run(app, db, *args, "--format", "json")
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_submit_override_and_history(app: typer.Typer, db: str) -> None:
    sub = _json(
        app,
        db,
        "submit",
        "--period",
        "2025-Q4",
        "--category",
        "commit",
        "--owner",
        R1,
        "--amount",
        "100000",
        "--note",
        "two in legal",
        "--as-of",
        "2025-11-03",
    )
    assert (sub["kind"], sub["category"], sub["submitted_by"]) == ("submission", "Commit", R1)
    assert sub["created_at"].startswith("2025-11-03T23:59:59")
    over = _json(
        app,
        db,
        "override",
        "--period",
        "2025-Q4",
        "--category",
        "Commit",
        "--owner",
        R1,
        "--amount",
        "90000",
        "--note",
        "slip",
        "--by",
        MGR,
        "--as-of",
        "2025-11-04",
    )
    assert (over["previous_amount"], over["amount"]) == (100_000, 90_000)
    hist = _json(app, db, "history", "--period", "2025-Q4")
    assert [e["kind"] for e in hist["timeline"]] == ["forecast", "submission", "override"]
    assert hist["calls"][0]["ai_expected"] == 60.0
    assert hist["current"][0]["amount"] == 90_000
    table = _run(app, db, "history", "--period", "2025-Q4")
    assert table.exit_code == 0 and "override" in table.stdout and "slip" in table.stdout


def test_override_without_a_note_or_by_a_non_manager_fails(app: typer.Typer, db: str) -> None:
    base = ["override", "--period", "2025-Q4", "--category", "Commit", "--owner", R1]
    no_note = _run(app, db, *base, "--amount", "1", "--note", "  ", "--by", MGR)
    assert no_note.exit_code != 0 and isinstance(no_note.exception, ValueError)
    assert "note is required" in str(no_note.exception)
    peer = _run(app, db, *base, "--amount", "1", "--note", "n", "--by", R2)
    assert isinstance(peer.exception, NotAllowed)
    missing = _run(app, db, *base, "--amount", "1", "--by", MGR)  # --note not given at all
    assert missing.exit_code == 2
    assert _json(app, db, "history", "--period", "2025-Q4")["calls"] == []


def test_changes_defaults_to_the_last_seven_days(app: typer.Typer, db: str) -> None:
    out = _json(app, db, "changes", "--period", "2025-Q4", "--as-of", UNTIL)
    assert out["since"] == "2025-11-01T23:59:59.999999" and out["reconciles"]
    store = Store.open(f"sqlite:///{db}")
    assert out == to_jsonable(what_changed(store, "2025-Q4", SINCE, UNTIL).as_dict())
    store.close()
    explicit = _json(app, db, "changes", "--period", "2025-Q4", "--since", SINCE, "--until", UNTIL)
    assert explicit["buckets"] == out["buckets"]
    table = _run(app, db, "changes", "--period", "2025-Q4", "--since", SINCE, "--until", UNTIL)
    assert table.exit_code == 0
    assert "Pushed out" in table.stdout and "273,000" in table.stdout


def test_accuracy_runs_in_both_formats(app: typer.Typer, db: str) -> None:
    _json(
        app,
        db,
        "submit",
        "--period",
        "2025-10",
        "--category",
        "Commit",
        "--owner",
        R1,
        "--amount",
        "5",
        "--note",
        "n",
        "--as-of",
        "2025-10-02",
    )
    out = _json(app, db, "accuracy", "--as-of", "2025-11-15")
    assert out["periods"] == ["2025-10"]
    (rita,) = out["reps"]
    assert (rita["owner_id"], rita["forecast"], rita["pattern"]) == (R1, 5, "insufficient history")
    assert rita["actual"] == 12_000  # "Booked earlier" won on 2025-10-15
    table = _run(app, db, "accuracy", "--as-of", "2025-11-15")
    assert table.exit_code == 0 and "Rita Rep" in table.stdout
