"""After a Salesforce sync only the changed deals are rescored, and the forecast is
recomputed on the fresh scores plus every other deal's latest stored one."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import func, select

from dealcast.crm.schema import forecast_snapshot, prediction
from dealcast.crm.sfdc_emulator import Emulator
from dealcast.crm.store import Store
from dealcast.refresh import refresh_after_sync
from dealcast.sim.stored_scores import latest_probabilities
from tests.integration.sfdc_fixtures import (
    CREDS,
    emu,
    sfdc_export,
    synced_base,
    synced_copy,
    syncer,
)
from tests.test_cli import run_cli

__all__ = ["emu", "sfdc_export", "synced_base"]  # fixtures


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _max_id(store: Store, column: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(column), 0))).scalar_one())


def _predictions_after(store: Store, last_id: int) -> list[tuple[str, str]]:
    with store.engine.connect() as conn:
        query = select(prediction.c.opportunity_id, prediction.c.batch_id).where(
            prediction.c.id > last_id
        )
        return [(str(r[0]), str(r[1])) for r in conn.execute(query)]


def _runs(store: Store) -> set[str]:
    with store.engine.connect() as conn:
        return set(conn.execute(select(forecast_snapshot.c.run_id)).scalars())


def _open_ids(store: Store, as_of: datetime) -> set[str]:
    opps = store.as_of(as_of).open_opportunities()
    return set(opps.loc[opps["CloseDate"].notna(), "Id"])


def test_only_changed_deals_are_rescored_and_the_forecast_is_recomputed(
    emu: Emulator, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "r.db")
    # a full sync (changed_opportunities None): every open deal scored, forecast stored
    first_at = _now()
    full = refresh_after_sync(
        store,
        SimpleNamespace(changed_opportunities=None),
        as_of=first_at,
        actor="t",
        n_sims=200,
    )
    open_before = _open_ids(store, first_at)
    assert open_before and full["rescored"] == len(open_before)
    assert {i for i, _ in _predictions_after(store, 0)} == open_before
    assert _runs(store) == {full["forecasts"][0]["run_id"]}
    assert full["forecasts"][0]["open_deals"] == len(open_before)
    stored = latest_probabilities(store, first_at, full["model_version"])
    assert set(stored) == open_before

    # 500-style changes in Salesforce, an incremental sync, and the refresh
    change = emu.mutate(new_deals=3, stage_changes=5, deletions=2)
    last_prediction, runs_before = _max_id(store, prediction.c.id), _runs(store)
    at = _now()
    report = syncer(store, emu).run(as_of=at)
    assert {o.mode for o in report.objects} == {"incremental"}
    changed = set(report.changed_opportunities or [])
    assert set(change.created) | set(change.stage_changed) | set(change.deleted) <= changed
    result = refresh_after_sync(store, report, as_of=at, actor="t", n_sims=200)
    open_now = _open_ids(store, at)
    new_rows = _predictions_after(store, last_prediction)
    # exactly the changed deals still open got a new prediction row, once, in one batch
    assert sorted(i for i, _ in new_rows) == sorted(changed & open_now)
    assert {b for _, b in new_rows} == {result["score_batch"]}
    assert set(change.created) <= {i for i, _ in new_rows}
    assert result["rescored"] == len(new_rows) < len(open_now)
    # a new forecast snapshot over the whole open pipeline (stored scores for the rest)
    new_runs = _runs(store) - runs_before
    assert new_runs == {result["forecasts"][0]["run_id"]}
    assert result["forecasts"][0]["open_deals"] == len(open_now)
    assert result["forecasts"][0]["periods"][0]["expected"] is not None

    # a sync that changed nothing rescores and forecasts nothing
    again = syncer(store, emu).run(as_of=_now())
    assert again.changed_opportunities == []
    last_prediction = _max_id(store, prediction.c.id)
    idle = refresh_after_sync(store, again, as_of=_now(), actor="t", n_sims=200)
    assert idle["skipped"] and _predictions_after(store, last_prediction) == []
    assert _runs(store) - runs_before == new_runs


def test_cli_ingest_salesforce_refreshes_by_default(
    emu: Emulator,
    synced_base: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    db = tmp_path / "cli.db"
    synced_copy(synced_base, db).close()
    for name, value in {
        "LOOPBACK": emu.url,
        "USERNAME": CREDS.username,
        "PASSWORD": CREDS.password,
        "SECURITY_TOKEN": CREDS.security_token,
        "BULK_POLL_SECONDS": "0.01",
    }.items():
        monkeypatch.setenv(f"DEALCAST_SFDC_{name}", value)
    change = emu.mutate(stage_changes=3)
    code, out, _ = run_cli(
        ["ingest", "salesforce", "--db", str(db), "--format", "json"], capsys, monkeypatch
    )
    assert code == 0
    payload = json.loads(out)
    refreshed = payload["refresh"]
    assert set(change.stage_changed) <= set(payload["changed_opportunities"])
    assert refreshed["rescored"] <= len(payload["changed_opportunities"])
    assert [f["period_kind"] for f in refreshed["forecasts"]] == ["quarter"]
    store = Store.open(f"sqlite:///{db}")
    assert _runs(store) == {refreshed["forecasts"][0]["run_id"]}
    store.close()
    emu.mutate(stage_changes=2)
    code, out, _ = run_cli(
        ["ingest", "salesforce", "--db", str(db), "--no-refresh", "--format", "json"],
        capsys,
        monkeypatch,
    )
    assert code == 0 and json.loads(out)["refresh"] is None
    code, _, _ = run_cli(
        ["ingest", "salesforce", "--db", str(db), "--forecast-period", "decade"],
        capsys,
        monkeypatch,
    )
    assert code == 2  # refused before syncing
