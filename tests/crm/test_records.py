from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import ValidationError

from dealcast.crm.records import (
    RECORD_TYPES,
    REQUIRED_OBJECTS,
    EmailMessage,
    Opportunity,
    object_of_id,
)

OPP = {
    "Id": "006000000000001AAA",
    "Name": "X",
    "AccountId": "001000000000001AAA",
    "OwnerId": "005000000000001AAA",
    "StageName": "Prospecting",
    "CloseDate": "2025-06-30",
    "CreatedDate": "2025-03-04T15:20:00.000Z",
}


@pytest.mark.parametrize(
    "stamp",
    [
        "2025-03-04T15:20:00.000Z",
        "2025-03-04T15:20:00.000+0000",
        "2025-03-04T17:20:00+02:00",
        "2025-03-04T15:20:00",
    ],
)
def test_datetimes_become_naive_utc(stamp: str) -> None:
    opp = Opportunity.model_validate({**OPP, "CreatedDate": stamp})
    assert opp.CreatedDate == datetime(2025, 3, 4, 15, 20)


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("false", False), ("1", True), ("0", False), ("TRUE", True)]
)
def test_booleans(text: str, value: bool) -> None:
    assert (
        EmailMessage.model_validate(
            {"Id": "02s000000000001AAA", "Incoming": text, "CreatedDate": "2025-01-01"}
        ).Incoming
        is value
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("Id", "not-an-id"),
        ("CloseDate", "2025-13-01"),
        ("Amount", "-1"),
        ("Amount", "abc"),
        ("Probability", "101"),
        ("IsClosed", "maybe"),
        ("AccountId", "short"),
    ],
)
def test_bad_values_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as info:
        Opportunity.model_validate({**OPP, field: value})
    assert info.value.errors()[0]["loc"][0] == field


def test_defaults_and_15_character_ids() -> None:
    opp = Opportunity.model_validate({**OPP, "Id": "006000000000001"})
    assert opp.IsDeleted is False and opp.Amount is None and opp.CloseDate == date(2025, 6, 30)


def test_contract_shape() -> None:
    assert [r.OBJECT for r in RECORD_TYPES][:4] == ["User", "Account", "Contact", "Opportunity"]
    assert REQUIRED_OBJECTS == {"User", "Account", "Opportunity", "OpportunityHistory"}
    assert "StageName" in Opportunity.required_fields()
    assert object_of_id("006000000000001AAA") == "Opportunity"
    assert object_of_id("00Q000000000001AAA") is None  # a Lead: not ours
