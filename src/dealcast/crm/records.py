"""Pydantic records for the Salesforce objects we read: the data contract.

Field names are Salesforce API names. One record class per object; the importer, the
emulator and the demo org all derive the contract (required fields, types, references)
from these classes, so there is exactly one definition of it.

Datetimes are normalised to naive UTC (the store's convention); dates stay dates.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

_ID_RE = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")

# Salesforce key prefixes: the first three characters of an Id name its object. They
# resolve polymorphic references (Task.WhatId may point at an Opportunity or an Account).
KEY_PREFIX: dict[str, str] = {
    "User": "005",
    "Account": "001",
    "Contact": "003",
    "Opportunity": "006",
    "OpportunityHistory": "008",
    "OpportunityContactRole": "00K",
    "Task": "00T",
    "Event": "00U",
    "EmailMessage": "02s",
}
PREFIX_OBJECT: dict[str, str] = {v: k for k, v in KEY_PREFIX.items()}


def object_of_id(sf_id: str) -> str | None:
    """The object an Id belongs to, by key prefix; None for objects we do not import."""
    return PREFIX_OBJECT.get(sf_id[:3])


def _check_id(value: str) -> str:
    if not _ID_RE.match(value):
        raise ValueError("not a Salesforce Id (15 or 18 letters and digits)")
    return value


def _to_naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _not_negative(value: float) -> float:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _percent(value: float) -> float:
    if not 0 <= value <= 100:
        raise ValueError("must be between 0 and 100")
    return value


def _strict_bool(value: Any) -> Any:
    # The contract says true/false; 1/0 are accepted because Bulk API CSVs use them too.
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise ValueError("must be true or false")
    return value


SfId = Annotated[str, AfterValidator(_check_id)]
UtcDatetime = Annotated[datetime, AfterValidator(_to_naive_utc)]
Money = Annotated[float, AfterValidator(_not_negative)]
Percent = Annotated[float, AfterValidator(_percent)]
SfBool = Annotated[bool, BeforeValidator(_strict_bool)]


@dataclass(frozen=True)
class Reference:
    """A lookup field. `targets` are the objects it may point to (by key prefix).

    Required references that do not resolve make the row invalid (quarantined); optional
    ones are kept and reported, because losing an email over a contact that was not
    exported would be worse than a dangling pointer.
    """

    field: str
    targets: tuple[str, ...]
    required: bool


class SfRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    OBJECT: ClassVar[str]
    REFERENCES: ClassVar[tuple[Reference, ...]] = ()

    Id: SfId
    IsDeleted: SfBool = False

    @classmethod
    def required_fields(cls) -> list[str]:
        return [name for name, f in cls.model_fields.items() if f.is_required()]

    @classmethod
    def field_names(cls) -> list[str]:
        return list(cls.model_fields)


class User(SfRecord):
    OBJECT: ClassVar[str] = "User"
    REFERENCES: ClassVar[tuple[Reference, ...]] = (Reference("ManagerId", ("User",), False),)

    Name: str
    Email: str | None = None
    ManagerId: SfId | None = None
    IsActive: SfBool = True


class Account(SfRecord):
    OBJECT: ClassVar[str] = "Account"
    REFERENCES: ClassVar[tuple[Reference, ...]] = (Reference("OwnerId", ("User",), False),)

    Name: str
    Industry: str | None = None
    NumberOfEmployees: Annotated[int, Field(ge=0)] | None = None
    AnnualRevenue: Money | None = None
    OwnerId: SfId | None = None
    CreatedDate: UtcDatetime


class Contact(SfRecord):
    OBJECT: ClassVar[str] = "Contact"
    REFERENCES: ClassVar[tuple[Reference, ...]] = (Reference("AccountId", ("Account",), False),)

    AccountId: SfId | None = None
    FirstName: str | None = None
    LastName: str
    Email: str | None = None
    Phone: str | None = None
    Title: str | None = None
    CreatedDate: UtcDatetime


class Opportunity(SfRecord):
    OBJECT: ClassVar[str] = "Opportunity"
    REFERENCES: ClassVar[tuple[Reference, ...]] = (
        Reference("AccountId", ("Account",), True),
        Reference("OwnerId", ("User",), True),
    )

    Name: str
    AccountId: SfId
    OwnerId: SfId
    StageName: str
    Amount: Money | None = None
    CloseDate: date
    Probability: Percent | None = None
    ForecastCategoryName: str | None = None
    IsClosed: SfBool | None = None
    IsWon: SfBool | None = None
    Type: str | None = None
    LeadSource: str | None = None
    NextStep: str | None = None
    CreatedDate: UtcDatetime
    LastModifiedDate: UtcDatetime | None = None
    LastActivityDate: date | None = None
    SystemModstamp: UtcDatetime | None = None


class OpportunityHistory(SfRecord):
    OBJECT: ClassVar[str] = "OpportunityHistory"
    REFERENCES: ClassVar[tuple[Reference, ...]] = (
        Reference("OpportunityId", ("Opportunity",), True),
        Reference("CreatedById", ("User",), False),
    )

    OpportunityId: SfId
    StageName: str
    Amount: Money | None = None
    CloseDate: date | None = None
    Probability: Percent | None = None
    ForecastCategory: str | None = None
    CreatedDate: UtcDatetime
    CreatedById: SfId | None = None


class OpportunityContactRole(SfRecord):
    OBJECT: ClassVar[str] = "OpportunityContactRole"
    REFERENCES: ClassVar[tuple[Reference, ...]] = (
        Reference("OpportunityId", ("Opportunity",), True),
        Reference("ContactId", ("Contact",), True),
    )

    OpportunityId: SfId
    ContactId: SfId
    Role: str | None = None
    IsPrimary: SfBool = False
    CreatedDate: UtcDatetime


class Task(SfRecord):
    OBJECT: ClassVar[str] = "Task"
    REFERENCES: ClassVar[tuple[Reference, ...]] = (
        Reference("WhatId", ("Opportunity", "Account"), False),
        Reference("WhoId", ("Contact",), False),
        Reference("OwnerId", ("User",), False),
    )

    WhatId: SfId | None = None
    WhoId: SfId | None = None
    OwnerId: SfId | None = None
    Subject: str | None = None
    Description: str | None = None
    ActivityDate: date | None = None
    Status: str | None = None
    TaskSubtype: str | None = None
    CreatedDate: UtcDatetime


class Event(SfRecord):
    OBJECT: ClassVar[str] = "Event"
    REFERENCES: ClassVar[tuple[Reference, ...]] = (
        Reference("WhatId", ("Opportunity", "Account"), False),
        Reference("WhoId", ("Contact",), False),
        Reference("OwnerId", ("User",), False),
    )

    WhatId: SfId | None = None
    WhoId: SfId | None = None
    OwnerId: SfId | None = None
    Subject: str | None = None
    Description: str | None = None
    StartDateTime: UtcDatetime | None = None
    EndDateTime: UtcDatetime | None = None
    ActivityDate: date | None = None
    CreatedDate: UtcDatetime


class EmailMessage(SfRecord):
    OBJECT: ClassVar[str] = "EmailMessage"
    REFERENCES: ClassVar[tuple[Reference, ...]] = (
        Reference("RelatedToId", ("Opportunity", "Account"), False),
    )

    RelatedToId: SfId | None = None
    Subject: str | None = None
    TextBody: str | None = None
    FromAddress: str | None = None
    ToAddress: str | None = None
    MessageDate: UtcDatetime | None = None
    Incoming: SfBool = False
    CreatedDate: UtcDatetime


# Import order: every object comes after the objects its required references point to.
RECORD_TYPES: tuple[type[SfRecord], ...] = (
    User,
    Account,
    Contact,
    Opportunity,
    OpportunityHistory,
    OpportunityContactRole,
    Task,
    Event,
    EmailMessage,
)
RECORDS_BY_OBJECT: dict[str, type[SfRecord]] = {r.OBJECT: r for r in RECORD_TYPES}

# An export without these cannot be forecast from; the others may be absent (not every
# org uses Enhanced Email or contact roles) and lower the data-quality score instead.
REQUIRED_OBJECTS: frozenset[str] = frozenset(
    {"User", "Account", "Opportunity", "OpportunityHistory"}
)
