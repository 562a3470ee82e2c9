"""A tiny hand-built org for the RAG tests: two reps, two deals and an account-level thread,
about thirty activities whose texts the tests know (embedding them takes a second).

Deal O1 (rep U1) is a pricing/competition thread with many generic "other vendor" notes;
one logistics email on it names the competitor "Zyphrax" and PO number 4471-889 without any
competitive wording (dense search ranks it low, BM25 finds it). Deal O2 (rep U2) is about
security and legal. Dates run from January to May 2026.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from tests.crm.export_builder import sfid, write_object

U1, U2 = sfid("005", 1), sfid("005", 2)
A1, A2 = sfid("001", 1), sfid("001", 2)
C1, C2, C3 = sfid("003", 1), sfid("003", 2), sfid("003", 3)
O1, O2 = sfid("006", 1), sfid("006", 2)
NEEDLE_EMAIL = sfid("02s", 90)
BACKDATED_TASK = sfid("00T", 90)  # dated 2026-02-01 but logged 2026-04-20
AS_OF = datetime(2026, 6, 1)

GENERIC_COMPETITION = (
    "They are comparing us with another vendor on price and features.",
    "The buyer said a competing product looked cheaper in their evaluation.",
    "Competitive pressure: an alternative supplier is in the deal.",
    "We discussed how we differ from the other vendors they are evaluating.",
    "Their team saw a rival demo last week and asked for a side-by-side comparison.",
    "Competition update: the other solution is being considered on ease of use.",
    "They want a comparison of our accuracy against the alternative they shortlisted.",
    "The rival offer was lower; we need to show more value than the competition.",
)
SECURITY = (
    "Security questionnaire sent back with the SOC 2 report.",
    "InfoSec needs the pen test summary before approving the vendor.",
    "Our CISO answered their questions on encryption and access control.",
)
LEGAL = (
    "Counsel sent redlines on the MSA, mostly about liability caps.",
    "The DPA must be signed before the contract can go through.",
)


def _ts(month: int, day: int, hour: int = 10) -> str:
    return f"2026-{month:02d}-{day:02d}T{hour:02d}:00:00.000Z"


def write_tiny_export(folder: Path) -> Path:
    w = write_object
    w(folder, "User", [{"Id": U1, "Name": "Rob Rep"}, {"Id": U2, "Name": "Rita Rep"}])
    w(
        folder,
        "Account",
        [
            {"Id": A1, "Name": "Acme Corp", "OwnerId": U1, "CreatedDate": _ts(1, 1)},
            {"Id": A2, "Name": "Globex", "OwnerId": U2, "CreatedDate": _ts(1, 1)},
        ],
    )
    contacts: list[dict[str, Any]] = [
        (C1, A1, "Dana", "Diaz", "dana@acme.example.com", "CFO"),
        (C2, A1, "Eli", "Ng", "eli@acme.example.com", "IT Director"),
        (C3, A2, "Gia", "Fox", "gia@globex.example.com", "CISO"),
    ]
    w(
        folder,
        "Contact",
        [
            {
                "Id": c,
                "AccountId": a,
                "FirstName": f,
                "LastName": la,
                "Email": e,
                "Title": t,
                "CreatedDate": _ts(1, 1),
            }
            for c, a, f, la, e, t in contacts
        ],
    )
    opp = {"StageName": "Prospecting", "CloseDate": "2026-09-30", "CreatedDate": _ts(1, 2)}
    w(
        folder,
        "Opportunity",
        [
            {
                **opp,
                "Id": O1,
                "Name": "Acme - Platform",
                "AccountId": A1,
                "OwnerId": U1,
                "NextStep": "Send revised pricing to Dana by Friday",
                "LastModifiedDate": _ts(5, 10),
            },
            {**opp, "Id": O2, "Name": "Globex - Pilot", "AccountId": A2, "OwnerId": U2},
        ],
    )
    w(
        folder,
        "OpportunityHistory",
        [
            {
                "Id": sfid("008", n),
                "OpportunityId": o,
                "StageName": "Prospecting",
                "CreatedDate": _ts(1, 2),
            }
            for n, o in enumerate((O1, O2), 1)
        ],
    )
    w(
        folder,
        "OpportunityContactRole",
        [
            {"Id": sfid("00K", 1), "OpportunityId": O1, "ContactId": C1, "Role": "Economic Buyer",
             "CreatedDate": _ts(1, 5)},
            # recorded only in April: a search as of March must not show it
            {"Id": sfid("00K", 2), "OpportunityId": O1, "ContactId": C2,
             "Role": "Technical Evaluator", "CreatedDate": _ts(4, 15)},
            {"Id": sfid("00K", 3), "OpportunityId": O2, "ContactId": C3, "Role": "Decision Maker",
             "CreatedDate": _ts(1, 5)},
        ],
    )  # fmt: skip
    tasks = [
        {"Id": sfid("00T", n), "WhatId": O1, "WhoId": C1 if n % 2 else C2, "OwnerId": U1,
         "Subject": "Call with Acme", "Description": text, "TaskSubtype": "Call",
         "ActivityDate": f"2026-02-{n + 1:02d}", "CreatedDate": _ts(2, n + 1)}
        for n, text in enumerate(GENERIC_COMPETITION[:4], 1)
    ] + [
        {"Id": sfid("00T", 10 + n), "WhatId": O2, "WhoId": C3, "OwnerId": U2,
         "Subject": "Security follow-up", "Description": text, "TaskSubtype": "Task",
         "ActivityDate": f"2026-03-{n + 1:02d}", "CreatedDate": _ts(3, n + 1)}
        for n, text in enumerate(SECURITY, 1)
    ] + [
        {"Id": BACKDATED_TASK, "WhatId": O1, "WhoId": C1, "OwnerId": U1, "Subject": "Late note",
         "Description": "Dana hinted the budget may be cut next quarter.", "TaskSubtype": "Call",
         "ActivityDate": "2026-02-01", "CreatedDate": _ts(4, 20)},
        {"Id": sfid("00T", 91), "WhatId": A1, "OwnerId": U1, "Subject": "Account planning",
         "Description": "Map the Acme org chart before the renewal.", "TaskSubtype": "Task",
         "ActivityDate": "2026-01-20", "CreatedDate": _ts(1, 20)},
        {"Id": sfid("00T", 92), "WhatId": O1, "WhoId": C1, "OwnerId": U1, "IsDeleted": True,
         "Subject": "Deleted", "Description": "This note was deleted in Salesforce.",
         "ActivityDate": "2026-02-20", "CreatedDate": _ts(2, 20)},
    ]  # fmt: skip
    w(folder, "Task", tasks)
    w(
        folder,
        "Event",
        [
            {"Id": sfid("00U", n), "WhatId": O2, "WhoId": C3, "OwnerId": U2,
             "Subject": "Legal review", "Description": text, "StartDateTime": _ts(4, n + 1),
             "EndDateTime": _ts(4, n + 1, 11), "CreatedDate": _ts(3, 20)}
            for n, text in enumerate(LEGAL, 1)
        ],
    )  # fmt: skip
    emails = [
        {"Id": sfid("02s", n), "RelatedToId": O1, "Subject": "Re: evaluation",
         "TextBody": f"Hi Rob,\n\n{text}\n\nDana", "FromAddress": "dana@acme.example.com",
         "ToAddress": "rob@example.com", "Incoming": True, "MessageDate": _ts(3, n),
         "CreatedDate": _ts(3, n)}
        for n, text in enumerate(GENERIC_COMPETITION[4:], 1)
    ] + [
        {"Id": sfid("02s", 10 + n), "RelatedToId": O2, "Subject": "Security review",
         "TextBody": f"Hi Gia,\n\n{text}\n\nRita", "FromAddress": "rita@example.com",
         "ToAddress": "gia@globex.example.com", "Incoming": False, "MessageDate": _ts(3, 10 + n),
         "CreatedDate": _ts(3, 10 + n)}
        for n, text in enumerate(SECURITY, 1)
    ] + [
        {"Id": NEEDLE_EMAIL, "RelatedToId": O1, "Subject": "Logistics",
         "TextBody": "Hi Rob,\n\nFor our records: Zyphrax invoice and PO number 4471-889 are "
         "attached; please file them with the onboarding paperwork.\n\nDana",
         "FromAddress": "dana@acme.example.com", "ToAddress": "rob@example.com",
         "Incoming": True, "MessageDate": _ts(3, 20), "CreatedDate": _ts(3, 20)},
        {"Id": sfid("02s", 91), "RelatedToId": O1, "Subject": "Long thread",
         "TextBody": "\n\n".join(f"Paragraph {i}: " + "word " * 60 for i in range(6)),
         "FromAddress": "rob@example.com", "ToAddress": "eli@acme.example.com",
         "Incoming": False, "MessageDate": _ts(5, 1), "CreatedDate": _ts(5, 1)},
    ]  # fmt: skip
    w(folder, "EmailMessage", emails)
    return folder


def tiny_store(root: Path) -> Store:
    folder = write_tiny_export(root / "export")
    store = Store.open(f"sqlite:///{root / 'tiny.db'}")
    import_export(store, folder, actor="test", as_of=AS_OF)
    return store
