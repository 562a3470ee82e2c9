"""`dealcast demo` end to end on a small org: ingest, train, risks, scores, forecast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.test_cli import run_cli


def test_demo_json_has_pipeline_forecast_and_deals_at_risk(
    tmp_path: Path, capsys: Any, monkeypatch: Any
) -> None:
    monkeypatch.setenv("DEALCAST_DATA_DIR", str(tmp_path))
    from dealcast.config import get_settings

    get_settings.cache_clear()
    args = ["demo", "--scale", "0.3", "--seed", "3", "--as-of", "2026-06-30T23:59:59"]
    code, out, err = run_cli([*args, "--format", "json"], capsys, monkeypatch)
    get_settings.cache_clear()
    assert code == 0, err
    result = json.loads(out)
    assert result["pipeline"]["open_deals"] > 0 and result["pipeline"]["model_version"]
    this_q, next_q = result["forecast"]["periods"]
    assert (this_q["period"], next_q["period"]) == ("2026-Q2", "2026-Q3")
    assert this_q["closed_won"] > 0 and this_q["p10"] <= this_q["p50"] <= this_q["p90"]
    assert result["forecast"]["model_version"] == result["pipeline"]["model_version"]
    assert all(r["win_probability"] <= 100 for r in result["at_risk"])
