"""The store suite: import, quarantine, rollback and audit, run against every backend.

Not collected on its own: `tests/crm/test_store_sqlite.py` and
`tests/integration/test_store_postgres.py` import these tests with their own `store`.
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text

from dealcast.crm import export_import as importer_module
from dealcast.crm.csv_source import ImportFatal
from dealcast.crm.export_import import import_export
from dealcast.crm.records import RECORD_TYPES
from dealcast.crm.schema import CRM_TABLES
from dealcast.crm.store import Store
from tests.crm.export_builder import A1, C1, C2, C3, O1, O2, O3, U2, minimal_export, sfid

AS_OF = datetime(2025, 6, 1)


def _import(store: Store, folder: Path) -> importer_module.ImportReport:
    return import_export(store, folder, actor="tester", as_of=AS_OF)


def _rows(store: Store, obj: str) -> dict[str, dict[str, Any]]:
    table = CRM_TABLES[obj]
    with store.engine.connect() as conn:
        return {r["Id"]: dict(r) for r in conn.execute(select(table)).mappings()}


def _crm_state(store: Store) -> dict[str, Any]:
    state = dict(store.fingerprint())
    state.pop("audit_log")
    state.pop("audit_head")
    return state


def _edit_csv(path: Path, edit: Any) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    fields = list(rows[0])
    rows = edit(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


# ---- parsing the contract ----------------------------------------------------------------


def test_every_contract_field_is_parsed_and_stored(store: Store, tmp_path: Path) -> None:
    report = _import(store, minimal_export(tmp_path / "exp"))
    assert report.quarantined == 0
    for record in RECORD_TYPES:
        rows = _rows(store, record.OBJECT)
        assert rows, record.OBJECT
        for field in record.field_names():
            if field == "IsDeleted":
                continue
            filled = [r[field] for r in rows.values() if r[field] is not None]
            assert filled, f"{record.OBJECT}.{field} was never stored"


def test_values_are_typed(store: Store, tmp_path: Path) -> None:
    _import(store, minimal_export(tmp_path / "exp"))
    opp = _rows(store, "Opportunity")[O1]
    assert opp["CloseDate"] == date(2025, 6, 30)
    assert opp["CreatedDate"] == datetime(2025, 1, 10, 12)
    assert opp["Amount"] == 90000.0 and opp["Probability"] == 90.0
    assert opp["IsClosed"] is False and opp["IsDeleted"] is False
    assert opp["NextStep"] == "Send MSA" and opp["LastActivityDate"] == date(2025, 6, 10)
    contact = _rows(store, "Contact")[C2]  # "+0000" offset form
    assert contact["CreatedDate"] == datetime(2025, 2, 2, 9)
    account = _rows(store, "Account")[A1]
    assert account["NumberOfEmployees"] == 500 and account["AnnualRevenue"] == 1.5e7
    email = _rows(store, "EmailMessage")[sfid("02s", 2)]
    assert email["Incoming"] is True
    assert email["TextBody"] == 'Rob, "looks good" but budget is tight.\n-- Carla'
    assert _rows(store, "OpportunityContactRole")[sfid("00K", 1)]["IsPrimary"] is True
    assert _rows(store, "User")[U2]["ManagerId"] == sfid("005", 1)


def test_bom_and_extra_columns_are_tolerated(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")
    path = folder / "Account.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    lines[0] += ",Custom__c"
    lines[1] += ",ignored"
    path.write_text("\ufeff" + "\r\n".join(lines) + "\r\n", encoding="utf-8")
    report = _import(store, folder)
    assert report.quarantined == 0
    assert _rows(store, "Account")[A1]["Name"] == "Acme Corp"


# ---- idempotence and deletes -------------------------------------------------------------


def test_reimporting_the_same_data_changes_nothing(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")
    first = _import(store, folder)
    before = _crm_state(store)
    second = _import(store, folder)
    after = _crm_state(store)
    assert all(o.inserted == 0 and o.updated == 0 for o in second.objects)
    assert sum(o.unchanged for o in second.objects) == first.rows
    before.pop("import_run"), after.pop("import_run")
    assert before == after


def test_changed_rows_are_updated_in_place(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")
    _import(store, folder)

    def bump(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        rows[0]["Amount"] = "95000"
        return rows

    _edit_csv(folder / "Opportunity.csv", bump)
    report = _import(store, folder)
    opp_report = next(o for o in report.objects if o.object == "Opportunity")
    assert (opp_report.inserted, opp_report.updated, opp_report.unchanged) == (0, 1, 2)
    assert _rows(store, "Opportunity")[O1]["Amount"] == 95000.0


def test_deleted_records_are_kept_but_hidden(store: Store, tmp_path: Path) -> None:
    _import(store, minimal_export(tmp_path / "exp"))
    assert _rows(store, "Opportunity")[O3]["IsDeleted"] is True
    ids = set(store.as_of("2025-03-01").opportunities()["Id"])
    assert O3 not in ids and O1 in ids


# ---- bad input ---------------------------------------------------------------------------


def test_bad_rows_are_quarantined_with_file_line_and_field(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")
    good = dict(next(csv.DictReader((folder / "Opportunity.csv").open(encoding="utf-8"))))

    def add_bad(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        bad = []
        cases: list[tuple[str, str]] = [
            ("CloseDate", "31/06/2025"),
            ("Amount", "-5"),
            ("StageName", "Signed"),
            ("AccountId", sfid("001", 99)),
            ("Probability", "140"),
            ("CreatedDate", ""),
        ]
        for n, (field, value) in enumerate(cases, start=10):
            bad.append({**good, "Id": sfid("006", n), field: value})
        bad.append({**good})  # duplicate Id of the first row
        return rows + bad

    _edit_csv(folder / "Opportunity.csv", add_bad)
    with (folder / "Opportunity.csv").open("a", encoding="utf-8") as handle:
        handle.write(f"{sfid('006', 20)},false,Short row\n")
    report = _import(store, folder)

    rejected = {(q["line"], q["field"]): q for q in store.quarantined(report.import_id)}
    expected_fields = {
        5: "CloseDate",
        6: "Amount",
        7: "StageName",
        8: "AccountId",
        9: "Probability",
        10: "CreatedDate",
        11: "Id",
        12: None,
    }
    assert {line: field for line, field in rejected} == expected_fields
    assert all(q["file"] == "Opportunity.csv" for q in rejected.values())
    assert "valid stages: Prospecting" in rejected[(7, "StageName")]["reason"]
    assert f"no Account with Id {sfid('001', 99)}" in rejected[(8, "AccountId")]["reason"]
    assert "first seen on line 2" in rejected[(11, "Id")]["reason"]
    assert "expected" in rejected[(12, None)]["reason"]
    assert rejected[(5, "CloseDate")]["raw"]["CloseDate"] == "31/06/2025"
    assert rejected[(6, "Amount")]["value"] == "-5"
    # the good rows still went in
    assert set(_rows(store, "Opportunity")) == {O1, O2, O3}
    assert report.quality.validity < 100


def test_dangling_required_reference_cascades_to_quarantine(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")
    _edit_csv(folder / "Opportunity.csv", lambda rows: [r for r in rows if r["Id"] != O2])
    report = _import(store, folder)
    reasons = [q["reason"] for q in store.quarantined(report.import_id)]
    assert reasons == [f"no Opportunity with Id {O2}"] * 2  # its two history rows


def test_missing_optional_reference_is_kept_and_reported(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")

    def orphan(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        rows[0]["WhoId"] = sfid("003", 77)
        return rows

    _edit_csv(folder / "Task.csv", orphan)
    report = _import(store, folder)
    assert report.quarantined == 0
    assert sfid("00T", 1) in _rows(store, "Task")
    assert any(w.field == "WhoId" and w.line == 2 for w in report.warnings)
    assert report.quality.details["references.Task.WhoId"] == 50.0


@pytest.mark.parametrize("missing", ["Opportunity", "OpportunityHistory"])
def test_missing_required_file_is_fatal(store: Store, tmp_path: Path, missing: str) -> None:
    folder = minimal_export(tmp_path / "exp")
    (folder / f"{missing}.csv").unlink()
    with pytest.raises(ImportFatal, match=f"{missing}.csv"):
        _import(store, folder)
    assert store.counts()["User"] == 0


def test_missing_required_column_is_fatal_and_names_it(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")
    path = folder / "Opportunity.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    col = header.index("StageName")
    path.write_text(
        "\n".join(
            ",".join(c for i, c in enumerate(next(csv.reader([ln]))) if i != col) for ln in lines
        )
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ImportFatal) as info:
        _import(store, folder)
    assert (info.value.file, info.value.line, info.value.field) == (
        "Opportunity.csv",
        1,
        "StageName",
    )
    assert store.counts()["User"] == 0  # earlier files were rolled back


def test_corrupt_file_mid_import_leaves_the_store_exactly_as_before(
    store: Store, tmp_path: Path
) -> None:
    folder = minimal_export(tmp_path / "exp")
    _import(store, folder)
    before = _crm_state(store)

    # A second export that changes opportunities (written before Task.csv is read) ...
    _edit_csv(folder / "Opportunity.csv", lambda rows: [{**r, "Amount": "1"} for r in rows])
    # ... and whose Task.csv turns into invalid UTF-8 on its third line.
    raw = (folder / "Task.csv").read_bytes().split(b"\n")
    raw[2] = raw[2].replace(b"Security", b"Secur\xff\xfeity")
    (folder / "Task.csv").write_bytes(b"\n".join(raw))
    with pytest.raises(ImportFatal) as info:
        _import(store, folder)
    assert (info.value.file, info.value.line) == ("Task.csv", 3)
    assert _crm_state(store) == before
    failed = store.audit_entries(action="import_failed")
    assert failed and "UTF-8" in failed[0].outputs["error"]
    assert store.verify_audit().ok


def test_a_crash_mid_import_rolls_everything_back(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = minimal_export(tmp_path / "exp")
    before = _crm_state(store)
    real_write = importer_module.TableWriter.write

    def crash_on_events(self: importer_module.TableWriter, rows: list[dict[str, Any]]) -> None:
        if self.table.name == "event":
            raise RuntimeError("disk on fire")
        real_write(self, rows)

    monkeypatch.setattr(importer_module.TableWriter, "write", crash_on_events)
    with pytest.raises(RuntimeError, match="disk on fire"):
        _import(store, folder)
    assert _crm_state(store) == before


# ---- contacts ----------------------------------------------------------------------------


def test_contacts_are_deduplicated_by_normalised_email(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")
    _import(store, folder)
    contacts = _rows(store, "Contact")
    assert contacts[C2]["CanonicalId"] == C1 and contacts[C1]["CanonicalId"] == C1
    snap = store.as_of(AS_OF)
    assert set(snap.contacts()["Id"]) == {C1, C3}
    roles = snap.contact_roles().set_index("Id")
    assert roles.loc[sfid("00K", 1), "ContactId"] == C1  # was C2, the duplicate


def test_an_earlier_duplicate_in_a_later_import_becomes_canonical(
    store: Store, tmp_path: Path
) -> None:
    folder = minimal_export(tmp_path / "exp")
    _import(store, folder)
    c4 = sfid("003", 4)

    def add_older(rows: list[dict[str, str]]) -> list[dict[str, str]]:
        return [
            *rows,
            {
                **rows[0],
                "Id": c4,
                "Email": "CARLA@acme.example",
                "CreatedDate": "2024-12-15T09:00:00Z",
            },
        ]

    _edit_csv(folder / "Contact.csv", add_older)
    _import(store, folder)
    contacts = _rows(store, "Contact")
    assert {contacts[c]["CanonicalId"] for c in (C1, C2, c4)} == {c4}


# ---- audit -------------------------------------------------------------------------------


def test_each_import_is_audited_and_the_chain_verifies(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "exp")
    report = _import(store, folder)
    _import(store, folder)
    entries = store.audit_entries(action="import")
    assert len(entries) == 2
    newest = entries[-1]
    assert newest.actor == "tester" and newest.outputs["import_id"] == report.import_id
    assert newest.inputs_hash == entries[0].inputs_hash  # same files, same hash
    assert newest.as_of == AS_OF
    assert store.verify_audit().ok and store.verify_audit().entries == 2


def test_the_database_refuses_to_change_the_audit_log(store: Store) -> None:
    store.record_audit(actor="a", action="forecast", subject="2025-Q3", outputs={"p50": 1})
    for statement in ("UPDATE audit_log SET actor = 'mallory'", "DELETE FROM audit_log"):
        with pytest.raises(Exception, match="append-only"), store.engine.begin() as conn:
            conn.execute(text(statement))
    assert store.verify_audit().ok


def _drop_audit_triggers(store: Store) -> None:
    with store.engine.begin() as conn:
        if store.backend == "postgresql":
            conn.execute(text("DROP TRIGGER audit_log_append_only ON audit_log"))
        else:
            conn.execute(text("DROP TRIGGER audit_log_no_update"))
            conn.execute(text("DROP TRIGGER audit_log_no_delete"))


def test_verify_detects_an_altered_entry(store: Store) -> None:
    for n in range(4):
        store.record_audit(actor="a", action="forecast", subject=f"Q{n}", outputs={"p50": n})
    _drop_audit_triggers(store)  # an attacker with database access
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET outputs = :o WHERE seq = 2"), {"o": '{"p50":99}'})
    result = store.verify_audit()
    assert not result.ok and result.bad_seq == 2 and "altered" in (result.problem or "")


def test_verify_detects_removed_and_truncated_entries(store: Store) -> None:
    for n in range(4):
        store.record_audit(actor="a", action="override", subject=f"Q{n}", outputs={"n": n})
    _drop_audit_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    assert not store.verify_audit().ok  # the head still says 4
    with store.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    result = store.verify_audit()
    assert not result.ok and result.bad_seq == 2


def test_verify_detects_a_rewritten_chain_that_skips_the_head(store: Store) -> None:
    store.record_audit(actor="a", action="train", subject="m", outputs={})
    _drop_audit_triggers(store)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET entry_hash = prev_hash WHERE seq = 1"))
    assert not store.verify_audit().ok
