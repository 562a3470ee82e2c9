"""CSV layout of the export and the writers for the org-level objects.

The column order of every file is the record class's `field_names()`; `LAYOUTS` spells out
the order the row builders use, and `check_contract` fails loudly if `records.py` changes
so that the two no longer agree.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import IO, Any

from dealcast.crm.demo.chunk import render
from dealcast.crm.demo.latent import Plan
from dealcast.crm.records import RECORDS_BY_OBJECT

LAYOUTS: dict[str, tuple[str, ...]] = {
    "User": ("Id", "IsDeleted", "Name", "Email", "ManagerId", "IsActive"),
    "Account": (
        "Id", "IsDeleted", "Name", "Industry", "NumberOfEmployees", "AnnualRevenue", "OwnerId",
        "CreatedDate",
    ),
    "Contact": (
        "Id", "IsDeleted", "AccountId", "FirstName", "LastName", "Email", "Phone", "Title",
        "CreatedDate",
    ),
    "Opportunity": (
        "Id", "IsDeleted", "Name", "AccountId", "OwnerId", "StageName", "Amount", "CloseDate",
        "Probability", "ForecastCategoryName", "IsClosed", "IsWon", "Type", "LeadSource",
        "NextStep", "CreatedDate", "LastModifiedDate", "LastActivityDate", "SystemModstamp",
    ),
    "OpportunityHistory": (
        "Id", "IsDeleted", "OpportunityId", "StageName", "Amount", "CloseDate", "Probability",
        "ForecastCategory", "CreatedDate", "CreatedById",
    ),
    "OpportunityContactRole": (
        "Id", "IsDeleted", "OpportunityId", "ContactId", "Role", "IsPrimary", "CreatedDate",
    ),
    "Task": (
        "Id", "IsDeleted", "WhatId", "WhoId", "OwnerId", "Subject", "Description",
        "ActivityDate", "Status", "TaskSubtype", "CreatedDate",
    ),
    "Event": (
        "Id", "IsDeleted", "WhatId", "WhoId", "OwnerId", "Subject", "Description",
        "StartDateTime", "EndDateTime", "ActivityDate", "CreatedDate",
    ),
    "EmailMessage": (
        "Id", "IsDeleted", "RelatedToId", "Subject", "TextBody", "FromAddress", "ToAddress",
        "MessageDate", "Incoming", "CreatedDate",
    ),
}  # fmt: skip


def check_contract() -> None:
    for obj, layout in LAYOUTS.items():
        expected = tuple(RECORDS_BY_OBJECT[obj].field_names())
        if layout != expected:
            raise RuntimeError(
                f"demo org layout for {obj} is out of date with records.py: "
                f"{list(layout)} != {list(expected)}"
            )
    if set(LAYOUTS) != set(RECORDS_BY_OBJECT):
        raise RuntimeError("demo org objects differ from RECORD_TYPES")


def open_csv(path: Path, header: tuple[str, ...]) -> IO[str]:
    handle = path.open("w", encoding="utf-8", newline="")
    csv.writer(handle).writerow(header)
    return handle


def write_people(p: Plan, out_dir: Path) -> dict[str, int]:
    users, acc, ct = p.users, p.accounts, p.contacts
    uid = p.user_ids
    managers = [None if m is None else uid[m] for m in users.manager]
    user_rows = [
        (
            uid[k],
            "false",
            users.names[k],
            users.emails[k],
            managers[k],
            "true" if users.leave[k] > p.cutoff else "false",
        )
        for k in range(len(users.names))
    ]
    account_rows = [
        (
            p.account_ids[a],
            "false",
            acc.names[a],
            acc.industry[a],
            acc.employees[a],
            acc.revenue[a],
            uid[acc.owner[a]],
            acc.created[a],
        )
        for a in range(len(acc.names))
    ]
    contact_rows = [
        (
            p.contact_ids[c],
            "false",
            p.account_ids[ct.account[c]],
            ct.first[c],
            ct.last[c],
            ct.emails[c],
            ct.phones[c],
            ct.titles[c],
            ct.created[c],
        )
        for c in range(len(ct.first))
    ]
    tables: dict[str, tuple[list[tuple[Any, ...]], tuple[int, ...]]] = {
        "User": (user_rows, ()),
        "Account": (account_rows, (7,)),
        "Contact": (contact_rows, (8,)),
    }
    for obj, (rows, dt_cols) in tables.items():
        with open_csv(out_dir / f"{obj}.csv", LAYOUTS[obj]) as handle:
            handle.write(render(rows, p.pod, (None, dt_cols, ())))
    return {obj: len(rows) for obj, (rows, _) in tables.items()}
