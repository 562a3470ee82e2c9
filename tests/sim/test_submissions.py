"""Submissions and overrides: validation, the manager hierarchy, the trail and the audit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dealcast.crm.schema import forecast_snapshot, forecast_submission
from dealcast.crm.store import Store
from dealcast.sim.periods import parse_period, periods_from
from dealcast.sim.submissions import (
    NotAllowed,
    calls,
    current_calls,
    manager_map,
    managers_above,
    override,
    reports_of,
    submit,
)
from tests.sim.test_changes import DEALS, MGR, R1, R2, VP, built_db, copied

T1, T2, T3, T4 = (datetime(2025, 11, d, 9) for d in (3, 4, 5, 6))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return built_db(tmp_path_factory.mktemp("calls"), deals={9: DEALS[9]}, predictions=False)


@pytest.fixture
def store(template: Path, tmp_path: Path) -> Iterator[Store]:
    s = Store.open(copied(template, tmp_path))
    yield s
    s.close()


def _rows(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(forecast_submission)).scalar_one())


def test_submissions_and_overrides_keep_every_row_with_old_and_new(store: Store) -> None:
    first = submit(store, "2025-Q4", "Commit", R1, 100_000, "two deals in legal", R1, at=T1)
    assert (first.kind, first.previous_amount, first.amount) == ("submission", None, 100_000)
    again = submit(store, "2025-Q4", "Commit", R1, 110_000, " Acme signed LOI ", R1, at=T2)
    assert again.previous_amount == 100_000 and again.note == "Acme signed LOI"
    mine = submit(store, "2025-Q4", "Best Case", R1, 150_000, "upside: Globex", R1, at=T2)
    assert mine.previous_amount is None  # categories are separate numbers
    cut = override(store, "2025-Q4", "Commit", R1, 90_000, "Acme slips to Jan", MGR, at=T3)
    assert (cut.kind, cut.submitted_by, cut.previous_amount) == ("override", MGR, 110_000)
    skip = override(store, "2025-Q4", "Commit", R1, 95_000, "VP call", VP, at=T4)  # skip-level
    assert skip.previous_amount == 90_000
    assert [(c.kind, c.amount) for c in calls(store, "2025-Q4")] == [
        ("submission", 100_000),
        ("submission", 110_000),
        ("submission", 150_000),
        ("override", 90_000),
        ("override", 95_000),
    ]
    current = {(c.owner_id, c.category): c for c in current_calls(store, "2025-Q4")}
    commit = current[(R1, "Commit")]
    assert (commit.amount, commit.kind, commit.submitted_by) == (95_000, "override", VP)
    assert commit.owner_name == "Rita Rep" and commit.note == "VP call"
    assert [c.amount for c in commit.trail] == [100_000, 110_000, 90_000, 95_000]
    assert current[(R1, "Best Case")].amount == 150_000
    assert current_calls(store, "2025-Q3") == []


def test_every_call_is_audited_and_the_chain_verifies(store: Store) -> None:
    submit(store, "2025-11", "Commit", R2, 10, "n", R2, at=T1)
    override(store, "2025-11", "Commit", R2, 12, "because", MGR, at=T2)
    sub = store.audit_entries(action="forecast_submission")
    over = store.audit_entries(action="forecast_override")
    assert len(sub) == len(over) == 1
    assert over[0].actor == MGR and over[0].subject == f"2025-11 Commit {R2}"
    assert over[0].as_of == T2
    assert over[0].outputs["previous_amount"] == 10 and over[0].outputs["amount"] == 12
    assert over[0].outputs["note"] == "because" and over[0].inputs_hash
    assert store.verify_audit().ok


@pytest.mark.parametrize("note", ["", "   ", "\n\t", None])
def test_a_call_without_a_note_is_rejected(store: Store, note: str | None) -> None:
    with pytest.raises(ValueError, match="note is required"):
        override(store, "2025-Q4", "Commit", R1, 1, note, MGR)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="note is required"):
        submit(store, "2025-Q4", "Commit", R1, 1, note, R1)  # type: ignore[arg-type]
    assert _rows(store) == 0 and not store.audit_entries(action="forecast_override")


@pytest.mark.parametrize(
    ("owner", "by"),
    [(R1, R2), (MGR, R1), (R1, R1), (VP, MGR)],
    ids=["peer", "report-over-manager", "self", "manager-over-own-manager"],
)
def test_only_a_manager_above_the_owner_can_override(store: Store, owner: str, by: str) -> None:
    with pytest.raises(NotAllowed, match="is not a manager above") as info:
        override(store, "2025-Q4", "Commit", owner, 1, "why", by)
    assert isinstance(info.value, PermissionError) and isinstance(info.value, ValueError)
    assert _rows(store) == 0


def test_submitting_someone_elses_number_is_an_override(store: Store) -> None:
    with pytest.raises(NotAllowed, match="override"):
        submit(store, "2025-Q4", "Commit", R1, 1, "n", MGR)
    assert _rows(store) == 0


@pytest.mark.parametrize(
    ("period", "category", "owner", "amount", "message"),
    [
        ("2025-Q4", "Pipeline", R1, 1, "not one of Commit, Best Case"),
        ("2025-Q4", "Commit", R1, -1, ">= 0"),
        ("2025-Q4", "Commit", R1, float("nan"), ">= 0"),
        ("2025-Q4", "Commit", R1, "lots", "not a number"),
        ("Q4 2025", "Commit", R1, 1, "YYYY-Www"),
        ("2025-W60", "Commit", R1, 1, "YYYY-Www"),
        ("2025-Q4", "Commit", "005000000000099AAA", 1, "not a known user"),
    ],
)
def test_bad_values_are_rejected_naming_the_valid_options(
    store: Store, period: str, category: str, owner: str, amount: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        submit(store, period, category, owner, amount, "note", owner)
    assert _rows(store) == 0


def test_hierarchy_helpers() -> None:
    import pandas as pd

    users = pd.DataFrame(
        {"Id": [VP, MGR, R1, R2, "x", "y"], "ManagerId": [None, VP, MGR, MGR, "y", "x"]}
    )
    managers = manager_map(users)
    assert managers_above(managers, R1) == [MGR, VP]
    assert managers_above(managers, VP) == []
    assert managers_above(managers, "x") == ["y"]  # a cycle is cut, not looped forever
    assert reports_of(managers, VP) == {MGR, R1, R2}
    assert reports_of(managers, R1) == set()


def test_the_ai_forecast_table_is_never_written(store: Store) -> None:
    submit(store, "2025-Q4", "Commit", R1, 1, "n", R1)
    override(store, "2025-Q4", "Commit", R1, 2, "n", MGR)
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(forecast_snapshot)).scalar() == 0


@pytest.mark.parametrize("fiscal_start_month", [1, 2, 4, 11])
def test_period_labels_parse_back_to_their_periods(fiscal_start_month: int) -> None:
    for kind in ("week", "month", "quarter"):
        for p in periods_from(date(2019, 12, 20), kind, 70, fiscal_start_month=fiscal_start_month):
            assert parse_period(p.label, fiscal_start_month=fiscal_start_month) == p
    assert parse_period("2026-Q1", fiscal_start_month=2).start == date(2025, 2, 1)
    assert parse_period("2020-W53").start == date(2020, 12, 28)
    with pytest.raises(ValueError, match="YYYY-Www"):
        parse_period("2021-W53")  # 2021 has 52 ISO weeks
