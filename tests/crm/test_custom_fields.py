"""Custom field mapping (`custom:` section) and point-in-time storage of their values."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from dealcast.crm.custom_fields import history, save_values, truthy, values_as_of
from dealcast.crm.salesforce_sync_config import load_custom_map, load_field_map
from dealcast.crm.store import Store

OPP = "006000000000001AAA"


def _map(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.yaml"
    path.write_text(text)
    return path


def test_custom_section_maps_api_names_to_features(tmp_path: Path) -> None:
    path = _map(
        tmp_path,
        "Opportunity:\n  Amount: Amount__c\n"
        "custom:\n  Opportunity:\n    Budget_Confirmed__c: budget_confirmed\n",
    )
    assert load_field_map(path) == {"Opportunity": {"Amount": "Amount__c"}}
    assert load_custom_map(path) == {"Opportunity": {"Budget_Confirmed__c": "budget_confirmed"}}
    assert load_custom_map(None) == {}


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("custom:\n  Widget:\n    X__c: x\n", "unknown object 'Widget'"),
        ("custom:\n  Opportunity:\n    'X__c; DROP': x\n", "not a field API name"),
        ("custom:\n  Opportunity:\n    Amount: amount\n", "is a contract field"),
        ("custom:\n  Opportunity:\n    X__c: Budget\n", "lower_snake_case"),
        ("custom:\n  Opportunity:\n    X__c: a\n    Y__c: a\n", "mapped twice"),
        ("custom: [1]\n", "must map objects"),
    ],
)
def test_bad_custom_mappings_name_the_problem(tmp_path: Path, text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        load_custom_map(_map(tmp_path, text))


def _spool(tmp_path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path = tmp_path / "Opportunity.csv"
    lines = ["Id,SystemModstamp,custom.budget_confirmed,Name"]
    lines += [f"{i},{stamp},{value},n" for i, stamp, value in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_values_are_appended_on_change_and_read_as_of(store: Store, tmp_path: Path) -> None:
    with store.engine.begin() as conn:
        first = _spool(tmp_path, [(OPP, "2026-03-01T10:00:00.000Z", "false")])
        assert save_values(conn, "Opportunity", first, 1) == 1
        # the overlap window re-reads the same record: nothing new
        assert save_values(conn, "Opportunity", first, 2) == 0
        # REST spells the stamp +0000; a later change is a new row
        later = _spool(tmp_path, [(OPP, "2026-03-05T09:00:00.000+0000", "true")])
        assert save_values(conn, "Opportunity", later, 3) == 1
    assert values_as_of(store, datetime(2026, 3, 1, 9)) == {}
    assert values_as_of(store, datetime(2026, 3, 1, 10)) == {(OPP, "budget_confirmed"): "false"}
    assert values_as_of(store, datetime(2026, 3, 5, 8)) == {(OPP, "budget_confirmed"): "false"}
    assert values_as_of(store, datetime(2026, 3, 6)) == {(OPP, "budget_confirmed"): "true"}
    assert len(history(store, datetime(2026, 3, 6), record_ids=[OPP])) == 2
    assert history(store, datetime(2026, 3, 6), record_ids=["006000000000009AAA"]).empty


def test_a_spool_without_custom_columns_writes_nothing(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "Task.csv"
    path.write_text("Id,Subject\n00T000000000001AAA,hi\n")
    with store.engine.begin() as conn:
        assert save_values(conn, "Task", path, 1) == 0


def test_truthy() -> None:
    assert [truthy(v) for v in ("true", "TRUE", "1", "yes", " Yes ")] == [True] * 5
    assert [truthy(v) for v in ("false", "0", "", None, "no")] == [False] * 5
