"""train / score / model commands end to end, JSON contract."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.demo_org import DemoOrg, copy_store
from tests.test_cli import run_cli

AS_OF = "2026-06-30"


def test_train_score_and_registry_commands(
    demo_org: DemoOrg, tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    db = str(tmp_path / "cli.db")
    copy_store(demo_org.store, Path(db))

    def cli(*args: str) -> Any:
        code, out, err = run_cli([*args, "--db", db, "--format", "json"], capsys, monkeypatch)
        assert code == 0, err
        return json.loads(out) if out.strip() else None

    trained = cli("train", "--as-of", AS_OF)
    assert trained["message"].startswith("registered deal_scorer 1.0.0 (champion)")
    assert (
        trained["result"]["model"]["auc"] > trained["result"]["stage_probability_baseline"]["auc"]
    )

    scored = cli("score", "--as-of", AS_OF)
    assert scored["model_version"] == "1.0.0" and scored["as_of"].startswith(AS_OF)
    deal = scored["deals"][0]
    assert set(deal) >= {
        "opportunity_id",
        "win_probability",
        "confidence",
        "needs_review",
        "model_version",
        "top_factors",
        "scored_at",
        "stale",
        "as_of",
    }
    one = cli("score", "--as-of", AS_OF, "--deal", deal["opportunity_id"])
    assert [d["opportunity_id"] for d in one["deals"]] == [deal["opportunity_id"]]

    recal = cli("model", "recalibrate", "--as-of", AS_OF)
    assert recal["version"] == "1.0.1" and recal["status"] == "challenger"
    compared = cli("model", "compare")
    assert compared["challenger"]["version"] == "1.0.1"
    assert compared["champion"]["version"] == "1.0.0"
    assert compared["better"] in ("challenger", "champion")

    run_cli(["model", "promote", "1.0.1", "--db", db], capsys, monkeypatch)
    listed = cli("model", "list")["models"]
    assert [(m["version"], m["status"]) for m in listed] == [
        ("1.0.1", "champion"),
        ("1.0.0", "retired"),
    ]
    run_cli(["model", "rollback", "--db", db], capsys, monkeypatch)
    assert cli("model", "list")["models"][1] == {**listed[1], "status": "champion"}


def test_score_without_history_uses_rules_and_says_why(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    from tests.crm.export_builder import minimal_export

    db = str(tmp_path / "tiny.db")
    folder = minimal_export(tmp_path / "exp")
    run_cli(
        ["ingest", "export", str(folder), "--db", db, "--as-of", "2025-06-01"], capsys, monkeypatch
    )
    code, out, _ = run_cli(
        ["train", "--db", db, "--as-of", "2025-06-01", "--format", "json"], capsys, monkeypatch
    )
    assert code == 0 and "training needs at least 50 won" in json.loads(out)["message"]
    code, out, _ = run_cli(
        ["score", "--db", db, "--as-of", "2025-06-01", "--format", "json"], capsys, monkeypatch
    )
    payload = json.loads(out)
    assert payload["model_version"] == "rules" and "no model" in payload["fallback"]
    assert payload["deals"][0]["needs_review"] is True
