"""A tiny hand-built org for risk-detector tests: add users, contacts, deals with history,
roles and activities, then write a Salesforce export and import it into a store."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from dealcast.crm.export_import import import_export
from dealcast.crm.records import KEY_PREFIX
from dealcast.crm.store import Store
from dealcast.risk.text_patterns import TextSignals
from tests.crm.export_builder import sfid, write_object

REP_EMAIL = "rob@seller.example"
PREFIX = KEY_PREFIX
PROBABILITY = {
    "Prospecting": 10,
    "Qualification": 10,
    "Needs Analysis": 20,
    "Value Proposition": 50,
    "Id. Decision Makers": 60,
    "Perception Analysis": 70,
    "Proposal/Price Quote": 75,
    "Negotiation/Review": 90,
    "Closed Won": 100,
    "Closed Lost": 0,
}


def pattern_signals(**kwargs: Any) -> TextSignals:
    """Text signals from the patterns alone when a learned classifier is available: the
    tests pin exact wording, not a model's judgement."""
    if "use_classifier" in {f.name for f in dataclasses.fields(TextSignals)}:
        kwargs["use_classifier"] = False
    return TextSignals(**kwargs)


def ts(value: str) -> str:
    """'2025-06-01' or '2025-06-01 14:00' -> export timestamp."""
    moment = datetime.fromisoformat(value if " " in value else f"{value} 12:00")
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


class Org:
    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.counters: dict[str, int] = defaultdict(int)
        self.emails: dict[str, str] = {}
        self.user = self._add("User", Name="Rob Rep", Email=REP_EMAIL, IsActive=True)
        self.account = self._add(
            "Account", Name="Acme Corp", OwnerId=self.user, CreatedDate=ts("2024-01-02")
        )

    def _add(self, obj: str, **fields: Any) -> str:
        self.counters[obj] += 1
        row_id = sfid(PREFIX[obj], self.counters[obj])
        self.rows[obj].append({"Id": row_id, **fields})
        return row_id

    def contact(self, first: str, last: str, title: str = "Manager") -> str:
        email = f"{first}.{last}@acme.example".lower()
        contact_id = self._add(
            "Contact",
            AccountId=self.account,
            FirstName=first,
            LastName=last,
            Email=email,
            Title=title,
            CreatedDate=ts("2024-01-03"),
        )
        self.emails[contact_id] = email
        return contact_id

    def deal(
        self,
        name: str,
        steps: list[tuple[str, str, float, str]],
        created: str | None = None,
    ) -> tuple[str, list[str]]:
        """`steps`: (when, stage, amount, close date) history rows, oldest first; the deal's
        current fields are the last step. Returns (deal id, history row ids)."""
        when, stage, amount, close = steps[-1]
        closed = stage.startswith("Closed")
        deal_id = self._add(
            "Opportunity",
            Name=name,
            AccountId=self.account,
            OwnerId=self.user,
            StageName=stage,
            Amount=amount,
            CloseDate=close,
            Probability=PROBABILITY[stage],
            IsClosed=closed,
            IsWon=stage == "Closed Won",
            CreatedDate=ts(created or steps[0][0]),
            LastModifiedDate=ts(when),
            IsDeleted=False,
        )
        history = [
            self._add(
                "OpportunityHistory",
                OpportunityId=deal_id,
                StageName=s,
                Amount=a,
                CloseDate=c,
                Probability=PROBABILITY[s],
                CreatedDate=ts(w),
            )
            for w, s, a, c in steps
        ]
        return deal_id, history

    def history(self, deal: str, when: str, stage: str, amount: float, close: str) -> str:
        """A later change: the history row, and the deal's current fields follow it."""
        for row in self.rows["Opportunity"]:
            if row["Id"] == deal:
                row.update(
                    StageName=stage,
                    Amount=amount,
                    CloseDate=close,
                    Probability=PROBABILITY[stage],
                    LastModifiedDate=ts(when),
                )
        return self._add(
            "OpportunityHistory",
            OpportunityId=deal,
            StageName=stage,
            Amount=amount,
            CloseDate=close,
            Probability=PROBABILITY[stage],
            CreatedDate=ts(when),
        )

    def role(self, deal: str, contact: str, role: str, primary: bool, when: str) -> str:
        return self._add(
            "OpportunityContactRole",
            OpportunityId=deal,
            ContactId=contact,
            Role=role,
            IsPrimary=primary,
            CreatedDate=ts(when),
        )

    def email(self, deal: str, when: str, contact: str, body: str, inbound: bool) -> str:
        them, us = self.emails[contact], REP_EMAIL
        return self._add(
            "EmailMessage",
            RelatedToId=deal,
            Subject=body.split(".")[0][:60],
            TextBody=body,
            FromAddress=them if inbound else us,
            ToAddress=us if inbound else them,
            MessageDate=ts(when),
            Incoming=inbound,
            CreatedDate=ts(when),
        )

    def call(self, deal: str, day: str, contact: str, notes: str) -> str:
        return self._task(deal, day, contact, notes, "Call")

    def todo(self, deal: str, day: str, contact: str, notes: str) -> str:
        return self._task(deal, day, contact, notes, "Task")

    def _task(self, deal: str, day: str, contact: str, notes: str, subtype: str) -> str:
        return self._add(
            "Task",
            WhatId=deal,
            WhoId=contact,
            OwnerId=self.user,
            Subject=notes.split(".")[0][:60],
            Description=notes,
            ActivityDate=day,
            Status="Completed",
            TaskSubtype=subtype,
            CreatedDate=ts(f"{day} 18:00"),
        )

    def meeting(self, deal: str, when: str, contact: str, notes: str) -> str:
        start = datetime.fromisoformat(when if " " in when else f"{when} 15:00")
        return self._add(
            "Event",
            WhatId=deal,
            WhoId=contact,
            OwnerId=self.user,
            Subject=notes.split(".")[0][:60],
            Description=notes,
            StartDateTime=ts(start.strftime("%Y-%m-%d %H:%M")),
            EndDateTime=ts((start + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M")),
            ActivityDate=start.date().isoformat(),
            CreatedDate=ts((start - timedelta(days=2)).strftime("%Y-%m-%d %H:%M")),
        )

    def closed_spells(self, stage: str, n: int, days: int, start: date) -> None:
        """`n` lost deals that each spent `days` in `stage`: the org's stage history."""
        for i in range(n):
            begin = start + timedelta(days=i)
            end = begin + timedelta(days=days)
            close = end.isoformat()
            self.deal(
                f"Old deal {i}",
                [
                    (begin.isoformat(), stage, 10000, close),
                    (end.isoformat(), "Closed Lost", 10000, close),
                ],
            )

    def write(self, folder: Path) -> Path:
        for obj in PREFIX:
            write_object(folder, obj, self.rows.get(obj, []))
        return folder

    def store(self, folder: Path, db: Path) -> Store:
        store = Store.open(f"sqlite:///{db}")
        import_export(store, self.write(folder), actor="test", as_of=datetime(2026, 1, 1))
        return store
