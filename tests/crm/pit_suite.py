"""Point-in-time reconstruction against hand-built histories, on every backend."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from dealcast.crm.export_import import import_export
from dealcast.crm.pit import as_of_instant
from dealcast.crm.store import Store
from tests.crm.export_builder import C1, C3, O1, O2, minimal_export, sfid

O4, O5 = sfid("006", 4), sfid("006", 5)


def _append(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open(encoding="utf-8", newline="") as handle:
        fields = next(csv.reader(handle))
    with path.open("a", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writerows(
            {k: ("true" if v is True else "false" if v is False else v) for k, v in r.items()}
            for r in rows
        )


@pytest.fixture
def loaded(store: Store, tmp_path: Path) -> Store:
    folder = minimal_export(tmp_path / "exp")
    # An opportunity without any history row: its current values are all we have.
    _append(
        folder / "Opportunity.csv",
        [
            {
                "Id": O4,
                "Name": "No history",
                "AccountId": sfid("001", 1),
                "OwnerId": sfid("005", 2),
                "StageName": "Qualification",
                "Amount": "7000",
                "CloseDate": "2025-08-31",
                "CreatedDate": "2025-04-01T09:00:00Z",
                "LastModifiedDate": "2025-04-02T09:00:00Z",
                "IsDeleted": False,
            }
        ],
    )
    import_export(store, folder, actor="t", as_of=datetime(2025, 7, 1))
    return store


def _opp(store: Store, t: Any, opp_id: str = O1) -> pd.Series:
    opps = store.as_of(t).opportunities().set_index("Id")
    assert opp_id in opps.index, f"{opp_id} missing at {t}"
    return opps.loc[opp_id]


def test_a_bare_date_means_the_end_of_that_day() -> None:
    assert as_of_instant("2025-03-01") == datetime(2025, 3, 1, 23, 59, 59, 999999)
    assert as_of_instant("2025-03-01T10:00:00+02:00") == datetime(2025, 3, 1, 8)
    with pytest.raises(ValueError, match="not a date"):
        as_of_instant("yesterday")


def test_opportunity_does_not_exist_before_it_was_created(loaded: Store) -> None:
    assert O1 not in set(loaded.as_of("2025-01-09").opportunities()["Id"])
    assert O1 in set(loaded.as_of("2025-01-10").opportunities()["Id"])


@pytest.mark.parametrize(
    ("t", "stage", "amount", "close", "prob", "category", "entered"),
    [
        ("2025-01-10", "Prospecting", 100000, "2025-03-31", 10, "Pipeline", "2025-01-10 12:00"),
        (
            "2025-03-01",
            "Proposal/Price Quote",
            100000,
            "2025-03-31",
            75,
            "Best Case",
            "2025-02-20 12:00",
        ),
        # an amount and close-date change does not restart the stage clock
        (
            "2025-04-01",
            "Proposal/Price Quote",
            90000,
            "2025-06-30",
            75,
            "Best Case",
            "2025-02-20 12:00",
        ),
        ("2025-06-01", "Negotiation/Review", 90000, "2025-06-30", 90, "Commit", "2025-05-20 08:00"),
    ],
)
def test_state_is_rebuilt_from_history(
    loaded: Store,
    t: str,
    stage: str,
    amount: float,
    close: str,
    prob: float,
    category: str,
    entered: str,
) -> None:
    opp = _opp(loaded, t)
    assert opp["StageName"] == stage
    assert opp["Amount"] == amount
    assert opp["CloseDate"] == pd.Timestamp(close)
    assert opp["Probability"] == prob
    assert opp["ForecastCategoryName"] == category
    assert opp["StageEnteredAt"] == pd.Timestamp(entered)
    assert opp["PitSource"] == "history"
    assert not opp["IsClosed"]


def test_changes_are_visible_from_their_exact_instant(loaded: Store) -> None:
    assert _opp(loaded, datetime(2025, 2, 20, 11, 59))["StageName"] == "Prospecting"
    assert _opp(loaded, datetime(2025, 2, 20, 12, 0))["StageName"] == "Proposal/Price Quote"


def test_closed_won_at_its_close_instant(loaded: Store) -> None:
    before = _opp(loaded, datetime(2025, 3, 15, 15), O2)
    assert before["StageName"] == "Qualification" and not before["IsClosed"]
    after = _opp(loaded, "2025-03-15", O2)
    assert after["IsClosed"] and after["IsWon"]
    assert after["ClosedAt"] == pd.Timestamp("2025-03-15 16:00")
    assert O2 not in set(loaded.as_of("2025-03-15").open_opportunities()["Id"])


def test_fields_without_history_are_hidden_or_recomputed(loaded: Store) -> None:
    early = _opp(loaded, "2025-03-01")
    assert pd.isna(early["NextStep"])  # written on 2025-05-20, unknown on 2025-03-01
    assert early["LastModifiedDate"] == pd.Timestamp("2025-02-20 12:00")
    assert early["LastActivityDate"] == pd.Timestamp("2025-02-15")  # the 03-05 demo is ahead
    assert _opp(loaded, "2025-04-01")["LastActivityDate"] == pd.Timestamp("2025-03-05")
    late = _opp(loaded, "2025-06-01")
    assert late["NextStep"] == "Send MSA"
    assert late["LastActivityDate"] == pd.Timestamp("2025-03-05")  # the 06-10 task is ahead


def test_no_history_uses_current_values_and_says_how_sure(loaded: Store) -> None:
    assert _opp(loaded, "2025-04-05", O4)["PitSource"] == "current"
    unsure = _opp(loaded, "2025-04-01", O4)  # modified on 04-02, after T
    assert unsure["PitSource"] == "unverified" and unsure["Amount"] == 7000


def test_people_and_activities_exist_only_from_their_creation(loaded: Store) -> None:
    snap = loaded.as_of("2025-01-31")
    assert set(snap.contacts()["Id"]) == {C1}
    assert snap.contact_roles().empty and snap.tasks().empty and snap.emails().empty
    assert loaded.as_of("2024-11-30").accounts().empty
    snap = loaded.as_of("2025-02-22")
    assert list(snap.emails()["Id"]) == [sfid("02s", 1)]
    assert set(snap.contact_roles()["Id"]) == {sfid("00K", 1)}
    assert set(loaded.as_of("2025-03-01").contacts()["Id"]) == {C1, C3}


def test_notes_of_activities_ahead_of_t_are_hidden(loaded: Store) -> None:
    events = loaded.as_of("2025-03-04").events().set_index("Id")
    assert pd.isna(events.loc[sfid("00U", 1), "Description"])  # the meeting is tomorrow
    tasks = loaded.as_of("2025-04-05").tasks().set_index("Id")
    assert pd.isna(tasks.loc[sfid("00T", 2), "Description"])
    assert pd.isna(tasks.loc[sfid("00T", 2), "Status"])
    tasks = loaded.as_of("2025-06-11").tasks().set_index("Id")
    assert tasks.loc[sfid("00T", 2), "Description"] == "Security questionnaire returned."


def _frames(store: Store, t: str) -> dict[str, pd.DataFrame]:
    snap = store.as_of(t)
    return {
        "opportunities": snap.opportunities(),
        "history": snap.history(),
        "contacts": snap.contacts(),
        "roles": snap.contact_roles(),
        "tasks": snap.tasks(),
        "events": snap.events(),
        "emails": snap.emails(),
        "accounts": snap.accounts(),
    }


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("Id").reset_index(drop=True)


def test_adding_data_dated_after_t_changes_nothing_at_t(loaded: Store, tmp_path: Path) -> None:
    t = "2025-04-01"
    before = _frames(loaded, t)
    folder = tmp_path / "exp"
    # Later: O1 is won at a lower amount, a new deal and its history, a late-logged
    # (backdated) call, a new meeting, a new email, a duplicate contact, a new role.
    _append(
        folder / "OpportunityHistory.csv",
        [
            {
                "Id": sfid("008", 20),
                "OpportunityId": O1,
                "StageName": "Closed Won",
                "Amount": 85000,
                "CloseDate": "2025-06-25",
                "Probability": 100,
                "ForecastCategory": "Closed",
                "CreatedDate": "2025-06-25T10:00:00Z",
            },
            {
                "Id": sfid("008", 21),
                "OpportunityId": O5,
                "StageName": "Prospecting",
                "Amount": 1000,
                "CloseDate": "2025-12-31",
                "CreatedDate": "2025-05-01T10:00:00Z",
            },
        ],
    )
    rows = list(csv.DictReader((folder / "Opportunity.csv").open(encoding="utf-8")))
    o1 = next(r for r in rows if r["Id"] == O1)
    o1.update(
        StageName="Closed Won",
        Amount="85000",
        CloseDate="2025-06-25",
        Probability="100",
        ForecastCategoryName="Closed",
        IsClosed="true",
        IsWon="true",
        LastModifiedDate="2025-06-25T10:00:00Z",
    )
    rows.append(
        {
            **o1,
            "Id": O5,
            "StageName": "Prospecting",
            "CreatedDate": "2025-05-01T10:00:00Z",
            "IsClosed": "false",
            "IsWon": "false",
        }
    )
    with (folder / "Opportunity.csv").open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    _append(
        folder / "Task.csv",
        [
            {
                "Id": sfid("00T", 9),
                "WhatId": O1,
                "WhoId": C3,
                "Subject": "Call",
                "Description": "Backdated call",
                "ActivityDate": "2025-03-20",
                "Status": "Completed",
                "CreatedDate": "2025-05-02T10:00:00Z",
            },
        ],
    )
    _append(
        folder / "Event.csv",
        [
            {
                "Id": sfid("00U", 9),
                "WhatId": O1,
                "Subject": "QBR",
                "StartDateTime": "2025-05-03T10:00:00Z",
                "ActivityDate": "2025-05-03",
                "CreatedDate": "2025-04-20T10:00:00Z",
            },
        ],
    )
    _append(
        folder / "EmailMessage.csv",
        [
            {
                "Id": sfid("02s", 9),
                "RelatedToId": O1,
                "Subject": "Signed",
                "TextBody": "Done!",
                "MessageDate": "2025-06-25T10:00:00Z",
                "Incoming": True,
                "CreatedDate": "2025-06-25T10:00:00Z",
            },
        ],
    )
    _append(
        folder / "Contact.csv",
        [
            {
                "Id": sfid("003", 9),
                "LastName": "Tech",
                "Email": "TED@acme.example",
                "CreatedDate": "2025-05-05T10:00:00Z",
            },
        ],
    )
    _append(
        folder / "OpportunityContactRole.csv",
        [
            {
                "Id": sfid("00K", 9),
                "OpportunityId": O1,
                "ContactId": sfid("003", 9),
                "Role": "Decision Maker",
                "CreatedDate": "2025-05-05T10:00:00Z",
            },
        ],
    )
    report = import_export(loaded, folder, actor="t", as_of=datetime(2025, 7, 1))
    assert report.quarantined == 0
    assert _opp(loaded, "2025-07-01")["StageName"] == "Closed Won"  # the new data is there
    after = _frames(loaded, t)
    for name, frame in before.items():
        pd.testing.assert_frame_equal(_sorted(frame), _sorted(after[name]), obj=name)


def test_history_forecast_category_api_values_become_labels(store: Store, tmp_path: Path) -> None:
    folder = minimal_export(tmp_path / "api")
    path = folder / "OpportunityHistory.csv"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace(",Best Case,", ",BestCase,").replace(",Commit,", ",Forecast,"),
        encoding="utf-8",
    )
    import_export(store, folder, actor="t", as_of=datetime(2025, 7, 1))
    assert _opp(store, "2025-03-01")["ForecastCategoryName"] == "Best Case"
    assert _opp(store, "2025-06-01")["ForecastCategoryName"] == "Commit"
