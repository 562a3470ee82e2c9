"""The CLI's contract: JSON on stdout, exit codes 0 / 2 (bad input) / 1 (internal error)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dealcast import cli
from dealcast.crm.store import Store
from tests.crm.export_builder import O1, O2, O3, minimal_export


def run_cli(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["dealcast", *args])
    code = 0
    try:
        cli.main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def db(tmp_path: Path) -> str:
    return str(tmp_path / "cli.db")


def _ingest(tmp_path: Path, db: str, capsys: Any, monkeypatch: Any) -> dict[str, Any]:
    folder = minimal_export(tmp_path / "exp")
    code, out, _ = run_cli(
        ["ingest", "export", str(folder), "--db", db, "--as-of", "2025-06-01", "--format", "json"],
        capsys,
        monkeypatch,
    )
    assert code == 0
    return json.loads(out)


def test_ingest_json_report(tmp_path: Path, db: str, capsys: Any, monkeypatch: Any) -> None:
    report = _ingest(tmp_path, db, capsys, monkeypatch)
    assert report["rows"] == 22 and report["quarantined"] == 0
    assert report["quality"]["score"] > 90 and report["flagged"] is False
    assert {o["object"] for o in report["objects"]} >= {"Opportunity", "EmailMessage"}


def test_deals_json_lists_every_open_undeleted_deal_as_of(
    tmp_path: Path, db: str, capsys: Any, monkeypatch: Any
) -> None:
    _ingest(tmp_path, db, capsys, monkeypatch)
    code, out, _ = run_cli(
        ["deals", "--db", db, "--as-of", "2025-03-01", "--format", "json"], capsys, monkeypatch
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["as_of"].startswith("2025-03-01T23:59:59")
    deals = {d["opportunity_id"]: d for d in payload["deals"]}
    assert set(deals) == {O1, O2}  # O3 is deleted
    assert deals[O1]["stage"] == "Proposal/Price Quote" and deals[O1]["amount"] == 100000
    assert deals[O1]["owner_name"] == "Rob Rep" and deals[O1]["account_name"] == "Acme Corp"
    assert deals[O1]["close_date"] == "2025-03-31" and deals[O1]["next_step"] is None
    code, out, _ = run_cli(
        ["deals", "--db", db, "--as-of", "2025-06-01", "--format", "json"], capsys, monkeypatch
    )
    assert [d["opportunity_id"] for d in json.loads(out)["deals"]] == [O1]
    assert O3 not in out


def test_table_output_goes_to_stdout(
    tmp_path: Path, db: str, capsys: Any, monkeypatch: Any
) -> None:
    _ingest(tmp_path, db, capsys, monkeypatch)
    code, out, _ = run_cli(["deals", "--db", db, "--as-of", "2025-03-01"], capsys, monkeypatch)
    assert code == 0 and "2 deals as of 2025-03-01" in out and "Acme" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ingest", "export", "/no/such/folder"], "is not a folder"),
        (["deals", "--as-of", "yesterday"], "not a date"),
        (["deals", "--deal", "006000000000999AAA", "--as-of", "2025-03-01"], "no open deal"),
        (["no-such-command"], "No such command"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    args: list[str], message: str, db: str, capsys: Any, monkeypatch: Any
) -> None:
    code, _, err = run_cli(
        [*args, "--db", db] if args[0] != "no-such-command" else args, capsys, monkeypatch
    )
    assert code == 2
    assert message in err


def test_fatal_import_exits_2_naming_file_and_line(
    tmp_path: Path, db: str, capsys: Any, monkeypatch: Any
) -> None:
    folder = minimal_export(tmp_path / "exp")
    (folder / "Task.csv").write_bytes(b"Id,CreatedDate\n00T000000000001AAA,\xff\n")
    code, _, err = run_cli(["ingest", "export", str(folder), "--db", db], capsys, monkeypatch)
    assert code == 2 and "Task.csv, line 2" in err


def test_internal_errors_exit_1(db: str, capsys: Any, monkeypatch: Any) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(Store, "verify_audit", boom)
    code, _, err = run_cli(["audit", "verify", "--db", db], capsys, monkeypatch)
    assert code == 1 and "internal error" in err


def test_audit_verify_exit_codes(tmp_path: Path, db: str, capsys: Any, monkeypatch: Any) -> None:
    _ingest(tmp_path, db, capsys, monkeypatch)
    code, out, _ = run_cli(["audit", "verify", "--db", db, "--format", "json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out) == {
        "ok": True,
        "entries": 1,
        "problem": None,
        "bad_seq": None,
    }
    store = Store.open(f"sqlite:///{db}")
    with store.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER audit_log_no_update"))
        conn.execute(text("UPDATE audit_log SET actor = 'mallory'"))
    code, _, err = run_cli(["audit", "verify", "--db", db], capsys, monkeypatch)
    assert code == 1 and "TAMPERED" in err


def test_quarantine_and_audit_list_json(
    tmp_path: Path, db: str, capsys: Any, monkeypatch: Any
) -> None:
    _ingest(tmp_path, db, capsys, monkeypatch)
    code, out, _ = run_cli(["quarantine", "--db", db, "--format", "json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out) == {"rows": []}
    code, out, _ = run_cli(["audit", "list", "--db", db, "--format", "json"], capsys, monkeypatch)
    entries = json.loads(out)["entries"]
    assert code == 0 and entries[0]["action"] == "import"
    assert O1 not in out  # the audit log holds summaries, not records
    assert O2 not in out
