"""The real simple-salesforce client against the loopback emulator: full sync equals an
export import; incremental sync after mutations equals a fresh full sync; crash safety."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dealcast.crm import export_import
from dealcast.crm.export_import import import_export
from dealcast.crm.salesforce_sync import freshness
from dealcast.crm.schema import CRM_TABLES, import_run, salesforce_sync_state
from dealcast.crm.sfdc_emulator import Emulator
from tests.integration.sfdc_fixtures import (
    crm_state,
    emu,
    open_store,
    sfdc_export,
    synced_base,
    synced_copy,
    syncer,
)

__all__ = ["emu", "sfdc_export", "synced_base"]  # fixtures


def _state_rows(store: Any) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(salesforce_sync_state)))


def test_full_sync_equals_export_import(emu: Emulator, sfdc_export: Path, tmp_path: Path) -> None:
    synced = open_store(tmp_path / "sync.db")
    report = syncer(synced, emu).run()
    assert {o.mode for o in report.objects} == {"full"}
    assert report.imported.quarantined == 0
    imported = open_store(tmp_path / "import.db")
    import_export(imported, sfdc_export, actor="t", as_of=_now())
    assert crm_state(synced) == crm_state(imported)
    # audited with objects, counts, API calls and watermarks; the run is a salesforce import
    entry = synced.audit_entries(action="salesforce_sync")[0]
    outputs = entry.outputs if isinstance(entry.outputs, dict) else {}
    assert outputs["api_calls"] == report.api_calls > 0
    assert set(outputs["watermarks"]) == set(CRM_TABLES)
    with (sfdc_export / "Opportunity.csv").open(newline="", encoding="utf-8") as handle:
        exported = sum(1 for _ in csv.DictReader(handle))
    assert outputs["objects"]["Opportunity"]["records"] == exported == 40
    with synced.engine.connect() as conn:
        kinds = list(conn.execute(select(import_run.c.kind)).scalars())
    assert kinds == ["salesforce"]
    assert report.api_usage is not None and report.api_usage[1] == 5000
    assert not freshness(synced).stale


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC).replace(tzinfo=None)


def test_resync_is_idempotent_and_incremental(
    emu: Emulator, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "s.db")
    before = crm_state(store)
    again = syncer(store, emu).run()
    assert {o.mode for o in again.objects} == {"incremental"}
    assert again.imported.as_dict()["objects"][3]["inserted"] == 0
    assert sum(o.updated + o.inserted for o in again.imported.objects) == 0
    assert again.changed_opportunities == []
    assert crm_state(store) == before
    # REST: one queryAll and one deleted call per object, plus the login
    assert again.api_calls == 2 * len(CRM_TABLES) + 1


def test_incremental_after_mutations_equals_fresh_full_sync(
    emu: Emulator, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "inc.db")
    change = emu.mutate(new_deals=4, stage_changes=6, deletions=3)
    report = syncer(store, emu).run()
    assert {o.mode for o in report.objects} == {"incremental"}
    touched = set(change.created) | set(change.stage_changed) | set(change.deleted)
    assert touched <= set(report.changed_opportunities or [])
    opp = next(o for o in report.objects if o.object == "Opportunity")
    assert set(opp.deleted_ids) == set(change.deleted)
    fresh = open_store(tmp_path / "fresh.db")
    syncer(fresh, emu).run(mode="full")
    assert crm_state(store) == crm_state(fresh)
    history = crm_state(store)["OpportunityHistory"]
    assert len(history) == len(crm_state(fresh)["OpportunityHistory"])


def test_purged_deletions_come_from_the_deleted_endpoint(
    emu: Emulator, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "p.db")
    change = emu.mutate(deletions=2)
    emu.purge_deleted()  # emptied recycle bin: queryAll no longer returns them
    report = syncer(store, emu).run()
    assert report.deleted == 2
    table = CRM_TABLES["Opportunity"]
    with store.engine.connect() as conn:
        flags = dict(
            conn.execute(
                select(table.c.Id, table.c.IsDeleted).where(table.c.Id.in_(change.deleted))
            ).all()
        )
    assert flags == dict.fromkeys(change.deleted, True)
    # and a re-run changes nothing
    again = syncer(store, emu).run()
    assert again.deleted == 0


def test_crash_mid_sync_resumes_from_last_committed_watermark(
    emu: Emulator, synced_base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = synced_copy(synced_base, tmp_path / "c.db")
    watermarks, data = _state_rows(store), crm_state(store)
    emu.mutate(new_deals=3, stage_changes=4, deletions=1)
    real_write = export_import.TableWriter.write

    def crash(self: export_import.TableWriter, rows: list[dict[str, Any]]) -> None:
        if self.table.name == "opportunity_history" and rows:
            raise RuntimeError("power cut")
        real_write(self, rows)

    monkeypatch.setattr(export_import.TableWriter, "write", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        syncer(store, emu).run()
    assert _state_rows(store) == watermarks  # nothing committed
    assert crm_state(store) == data
    assert store.audit_entries(action="salesforce_sync_failed")
    monkeypatch.setattr(export_import.TableWriter, "write", real_write)
    syncer(store, emu).run()
    fresh = open_store(tmp_path / "f.db")
    syncer(fresh, emu).run(mode="full")
    assert crm_state(store) == crm_state(fresh)


def test_freshness_marks_data_older_than_an_hour_stale(synced_base: Path, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    assert freshness(open_store(tmp_path / "empty.db")).stale  # never synced
    store = synced_copy(synced_base, tmp_path / "fr.db")
    now = datetime.now(UTC)
    assert not freshness(store, now).stale
    later = freshness(store, now + timedelta(hours=1, minutes=1))
    assert later.stale and later.age_seconds is not None and later.age_seconds > 3600
