"""Hand-built Salesforce exports for tests: write `<Object>.csv` files from dicts."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from dealcast.crm.records import RECORDS_BY_OBJECT


def sfid(obj_prefix: str, n: int) -> str:
    """A valid 18-character Salesforce Id with the given key prefix."""
    return f"{obj_prefix}{n:012d}AAA"


def write_object(
    folder: Path, obj: str, rows: Iterable[Mapping[str, Any]], header: list[str] | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    fields = header or RECORDS_BY_OBJECT[obj].field_names()
    path = folder / f"{obj}.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(fields)
        for row in rows:
            writer.writerow([_text(row.get(f)) for f in fields])
    return path


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


U1, U2 = sfid("005", 1), sfid("005", 2)
A1 = sfid("001", 1)
C1, C2, C3 = sfid("003", 1), sfid("003", 2), sfid("003", 3)
O1, O2, O3 = sfid("006", 1), sfid("006", 2), sfid("006", 3)


def minimal_export(folder: Path) -> Path:
    """Two reps, one account, three contacts (two share an email), three deals with
    history, roles, a task, an event and two emails."""
    write_object(
        folder,
        "User",
        [
            {"Id": U1, "Name": "Maria Manager", "Email": "maria@example.com", "IsActive": True},
            {
                "Id": U2,
                "Name": "Rob Rep",
                "Email": "rob@example.com",
                "ManagerId": U1,
                "IsActive": True,
            },
        ],
    )
    write_object(
        folder,
        "Account",
        [
            {
                "Id": A1,
                "Name": "Acme Corp",
                "Industry": "Manufacturing",
                "NumberOfEmployees": 500,
                "AnnualRevenue": 1.5e7,
                "OwnerId": U2,
                "CreatedDate": "2024-12-01T10:00:00.000Z",
            },
        ],
    )
    write_object(
        folder,
        "Contact",
        [
            {
                "Id": C1,
                "AccountId": A1,
                "FirstName": "Carla",
                "LastName": "Chief",
                "Email": "carla@acme.example",
                "Phone": "+1 (415) 555-0100",
                "Title": "CFO",
                "CreatedDate": "2025-01-02T09:00:00Z",
            },
            {
                "Id": C2,
                "AccountId": A1,
                "FirstName": "Carla",
                "LastName": "Chief",
                "Email": " Carla@ACME.example ",
                "Title": "CFO",
                "CreatedDate": "2025-02-02T09:00:00.000+0000",
            },
            {
                "Id": C3,
                "AccountId": A1,
                "FirstName": "Ted",
                "LastName": "Tech",
                "Email": "ted@acme.example",
                "Title": "IT Director",
                "CreatedDate": "2025-03-01T09:00:00Z",
            },
        ],
    )
    write_object(
        folder,
        "Opportunity",
        [
            {
                "Id": O1,
                "Name": "Acme - Platform",
                "AccountId": A1,
                "OwnerId": U2,
                "StageName": "Negotiation/Review",
                "Amount": 90000,
                "CloseDate": "2025-06-30",
                "Probability": 90,
                "ForecastCategoryName": "Commit",
                "IsClosed": False,
                "IsWon": False,
                "Type": "New Business",
                "LeadSource": "Web",
                "NextStep": "Send MSA",
                "CreatedDate": "2025-01-10T12:00:00Z",
                "LastModifiedDate": "2025-05-20T08:00:00Z",
                "SystemModstamp": "2025-05-20T08:00:00Z",
                "LastActivityDate": "2025-06-10",
                "IsDeleted": False,
            },
            {
                "Id": O2,
                "Name": "Acme - Add-on",
                "AccountId": A1,
                "OwnerId": U2,
                "StageName": "Closed Won",
                "Amount": 20000,
                "CloseDate": "2025-03-15",
                "Probability": 100,
                "ForecastCategoryName": "Closed",
                "IsClosed": True,
                "IsWon": True,
                "CreatedDate": "2025-02-01T12:00:00Z",
                "LastModifiedDate": "2025-03-15T16:00:00Z",
                "IsDeleted": False,
            },
            {
                "Id": O3,
                "Name": "Acme - Duplicate",
                "AccountId": A1,
                "OwnerId": U2,
                "StageName": "Prospecting",
                "Amount": 5000,
                "CloseDate": "2025-09-30",
                "CreatedDate": "2025-02-05T12:00:00Z",
                "LastModifiedDate": "2025-02-06T12:00:00Z",
                "IsDeleted": True,
            },
        ],
    )
    write_object(
        folder,
        "OpportunityHistory",
        [
            {
                "Id": sfid("008", 1),
                "OpportunityId": O1,
                "StageName": "Prospecting",
                "Amount": 100000,
                "CloseDate": "2025-03-31",
                "Probability": 10,
                "ForecastCategory": "Pipeline",
                "CreatedDate": "2025-01-10T12:00:00Z",
                "CreatedById": U2,
            },
            {
                "Id": sfid("008", 2),
                "OpportunityId": O1,
                "StageName": "Proposal/Price Quote",
                "Amount": 100000,
                "CloseDate": "2025-03-31",
                "Probability": 75,
                "ForecastCategory": "Best Case",
                "CreatedDate": "2025-02-20T12:00:00Z",
                "CreatedById": U2,
            },
            {
                "Id": sfid("008", 3),
                "OpportunityId": O1,
                "StageName": "Proposal/Price Quote",
                "Amount": 90000,
                "CloseDate": "2025-06-30",
                "Probability": 75,
                "ForecastCategory": "Best Case",
                "CreatedDate": "2025-03-25T12:00:00Z",
                "CreatedById": U2,
            },
            {
                "Id": sfid("008", 4),
                "OpportunityId": O1,
                "StageName": "Negotiation/Review",
                "Amount": 90000,
                "CloseDate": "2025-06-30",
                "Probability": 90,
                "ForecastCategory": "Commit",
                "CreatedDate": "2025-05-20T08:00:00Z",
                "CreatedById": U2,
            },
            {
                "Id": sfid("008", 5),
                "OpportunityId": O2,
                "StageName": "Qualification",
                "Amount": 20000,
                "CloseDate": "2025-03-31",
                "Probability": 10,
                "ForecastCategory": "Pipeline",
                "CreatedDate": "2025-02-01T12:00:00Z",
            },
            {
                "Id": sfid("008", 6),
                "OpportunityId": O2,
                "StageName": "Closed Won",
                "Amount": 20000,
                "CloseDate": "2025-03-15",
                "Probability": 100,
                "ForecastCategory": "Closed",
                "CreatedDate": "2025-03-15T16:00:00Z",
            },
        ],
    )
    write_object(
        folder,
        "OpportunityContactRole",
        [
            {
                "Id": sfid("00K", 1),
                "OpportunityId": O1,
                "ContactId": C2,
                "Role": "Economic Buyer",
                "IsPrimary": True,
                "CreatedDate": "2025-02-10T10:00:00Z",
            },
            {
                "Id": sfid("00K", 2),
                "OpportunityId": O1,
                "ContactId": C3,
                "Role": "Technical Buyer",
                "IsPrimary": False,
                "CreatedDate": "2025-04-10T10:00:00Z",
            },
        ],
    )
    write_object(
        folder,
        "Task",
        [
            {
                "Id": sfid("00T", 1),
                "WhatId": O1,
                "WhoId": C2,
                "OwnerId": U2,
                "Subject": "Call",
                "Description": "Discussed pricing, they want 10% off.",
                "ActivityDate": "2025-02-15",
                "Status": "Completed",
                "TaskSubtype": "Call",
                "CreatedDate": "2025-02-15T15:00:00Z",
            },
            {
                "Id": sfid("00T", 2),
                "WhatId": O1,
                "WhoId": C3,
                "OwnerId": U2,
                "Subject": "Security review",
                "Description": "Security questionnaire returned.",
                "ActivityDate": "2025-06-10",
                "Status": "Completed",
                "TaskSubtype": "Task",
                "CreatedDate": "2025-04-01T15:00:00Z",
            },
        ],
    )
    write_object(
        folder,
        "Event",
        [
            {
                "Id": sfid("00U", 1),
                "WhatId": O1,
                "WhoId": C1,
                "OwnerId": U2,
                "Subject": "Demo",
                "Description": "Great demo, CFO engaged.",
                "StartDateTime": "2025-03-05T14:00:00Z",
                "EndDateTime": "2025-03-05T15:00:00Z",
                "ActivityDate": "2025-03-05",
                "CreatedDate": "2025-03-01T10:00:00Z",
            },
        ],
    )
    write_object(
        folder,
        "EmailMessage",
        [
            {
                "Id": sfid("02s", 1),
                "RelatedToId": O1,
                "Subject": "Proposal",
                "TextBody": "Hi Carla,\nAttached is our proposal.\nRob",
                "FromAddress": "rob@example.com",
                "ToAddress": "carla@acme.example",
                "MessageDate": "2025-02-21T09:00:00Z",
                "Incoming": False,
                "CreatedDate": "2025-02-21T09:00:00Z",
            },
            {
                "Id": sfid("02s", 2),
                "RelatedToId": O1,
                "Subject": "RE: Proposal",
                "TextBody": 'Rob, "looks good" but budget is tight.\n-- Carla',
                "FromAddress": "carla@acme.example",
                "ToAddress": "rob@example.com",
                "MessageDate": "2025-02-24T09:00:00Z",
                "Incoming": True,
                "CreatedDate": "2025-02-24T09:00:00Z",
            },
        ],
    )
    return folder
