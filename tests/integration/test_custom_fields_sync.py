"""Custom fields and custom stage picklists through the real sync (loopback emulator): a
mapped custom column is read by Bulk (full) and REST (incremental) and stored point-in-time;
an org's own stages import cleanly with the stage file and are quarantined without it."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from dealcast.crm.custom_fields import values_as_of
from dealcast.crm.schema import crm_custom_value
from dealcast.crm.sfdc_emulator import Emulator
from dealcast.crm.stages import StageConfig
from dealcast.crm.store import Store
from tests.integration.sfdc_fixtures import emulator, open_store, sfdc_export, syncer

__all__ = ["sfdc_export"]  # fixtures

EXAMPLE_STAGES = Path(__file__).parents[2] / "docs" / "stages.example.yaml"
STAGE_MAP = {
    "Prospecting": "Discovery",
    "Qualification": "Discovery",
    "Needs Analysis": "Evaluation",
    "Value Proposition": "Evaluation",
    "Id. Decision Makers": "Proposal",
    "Perception Analysis": "Proposal",
    "Proposal/Price Quote": "Proposal",
    "Negotiation/Review": "Contracting",
    "Closed Won": "Won",
    "Closed Lost": "Lost",
}


def _rewrite(path: Path, change: dict[str, object]) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows, names = list(reader), list(reader.fieldnames or [])
    for i, row in enumerate(rows):
        for column, fn in change.items():
            if column not in names:
                names.append(column)
            row[column] = fn(i, row) if callable(fn) else str(fn)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=names, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return rows


@pytest.fixture(scope="module")
def custom_org(sfdc_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo export with the org's own stages and a Budget_Confirmed__c checkbox (true on
    every third deal)."""
    folder = tmp_path_factory.mktemp("custom") / "export"
    shutil.copytree(sfdc_export, folder)
    stage = {"StageName": lambda i, r: STAGE_MAP.get(r["StageName"], r["StageName"])}
    _rewrite(folder / "OpportunityHistory.csv", stage)
    _rewrite(
        folder / "Opportunity.csv",
        {**stage, "Budget_Confirmed__c": lambda i, r: "true" if i % 3 == 0 else "false"},
    )
    return folder


@pytest.fixture
def emu(custom_org: Path) -> Iterator[Emulator]:
    e = emulator(custom_org)
    yield e
    e.stop()


def _store(path: Path, custom_stages: bool = True) -> Store:
    store = open_store(path)
    if custom_stages:
        store.stages = StageConfig.from_yaml(EXAMPLE_STAGES)
    return store


def _map(tmp_path: Path) -> Path:
    path = tmp_path / "fields.yaml"
    path.write_text("custom:\n  Opportunity:\n    Budget_Confirmed__c: budget_confirmed\n")
    return path


def _rows(store: Store) -> list[tuple[str, str | None, datetime]]:
    c = crm_custom_value.c
    with store.engine.connect() as conn:
        query = select(c.record_id, c.value, c.known_from).where(c.feature == "budget_confirmed")
        return sorted(tuple(r) for r in conn.execute(query))  # type: ignore[misc]


def test_custom_field_is_synced_point_in_time(emu: Emulator, tmp_path: Path) -> None:
    store = _store(tmp_path / "s.db")
    report = syncer(store, emu, field_map_file=_map(tmp_path)).run()
    assert {o.mode for o in report.objects} == {"full"} and report.imported.quarantined == 0
    table = emu.data.tables["Opportunity"]
    truth = {i: (r["Budget_Confirmed__c"], r["SystemModstamp"]) for i, r in table.records.items()}
    rows = _rows(store)
    # Bulk: one row per deal, dated by the deal's SystemModstamp
    assert {r[0]: (r[1], r[2]) for r in rows} == {
        i: (v, s.replace(tzinfo=None)) for i, (v, s) in truth.items()
    }
    assert sum(v == "true" for v, _ in truth.values()) >= 10

    # a deal's box is ticked in Salesforce: the REST increment adds one row, dated then
    deal = next(i for i, (v, _) in truth.items() if v == "false")
    stamp = datetime.now(UTC).replace(microsecond=0)
    with emu.data.lock:
        table.put({**table.records[deal], "Budget_Confirmed__c": "true", "SystemModstamp": stamp})
    again = syncer(store, emu, field_map_file=_map(tmp_path)).run()
    assert {o.mode for o in again.objects} == {"incremental"}
    after = _rows(store)
    assert len(after) == len(rows) + 1
    before_change = stamp.replace(tzinfo=None) - timedelta(seconds=1)
    assert values_as_of(store, before_change)[(deal, "budget_confirmed")] == "false"
    assert values_as_of(store, stamp.replace(tzinfo=None))[(deal, "budget_confirmed")] == "true"
    # a re-run (the overlap window re-reads it) adds nothing
    syncer(store, emu, field_map_file=_map(tmp_path)).run()
    assert _rows(store) == after


def test_renamed_custom_field_keeps_stored_values(emu: Emulator, tmp_path: Path) -> None:
    store = _store(tmp_path / "r.db")
    mapping = tmp_path / "bad.yaml"
    mapping.write_text("custom:\n  Opportunity:\n    Gone__c: budget_confirmed\n")
    report = syncer(store, emu, field_map_file=mapping).run()
    assert report.imported.quarantined == 0 and _rows(store) == []
    # logged, kept syncing, and flagged like a missing contract field
    assert report.mismatches == ["Opportunity.Gone__c"]
    assert report.flagged


def test_custom_stage_picklist_through_the_sync(emu: Emulator, tmp_path: Path) -> None:
    custom = _store(tmp_path / "c.db")
    assert syncer(custom, emu).run().imported.quarantined == 0
    stages = set(custom.as_of(datetime.now(UTC)).opportunities()["StageName"])
    assert stages and stages <= set(StageConfig.from_yaml(EXAMPLE_STAGES).names)
    standard = _store(tmp_path / "std.db", custom_stages=False)
    assert syncer(standard, emu).run().imported.quarantined > 0
