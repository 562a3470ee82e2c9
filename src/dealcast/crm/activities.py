"""Tasks, events and emails of a snapshot as one activity frame (shared by features and risks).

Columns: Id, OpportunityId (the WhatId/RelatedToId), Kind (call, task, meeting, email),
Inbound, ContactId (tasks/events: WhoId; inbound email: the sender's address), To (outbound
email: the recipients' addresses), Happened, Created, Known = max(Happened, Created) — the
instant the activity is known to have happened — Subject and Text (subject + body).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dealcast.crm.pit import Snapshot


def activity_frame(snap: Snapshot) -> pd.DataFrame:
    tasks, events, emails = snap.tasks(), snap.events(), snap.emails()
    incoming = emails["Incoming"].astype(bool)
    parts = [
        pd.DataFrame(
            {
                "Id": tasks["Id"],
                "OpportunityId": tasks["WhatId"],
                "Kind": np.where(
                    tasks["TaskSubtype"].fillna("").str.lower() == "call", "call", "task"
                ),
                "Inbound": False,
                "ContactId": tasks["WhoId"],
                "Happened": tasks["ActivityDate"].fillna(tasks["CreatedDate"]),
                "Created": tasks["CreatedDate"],
                "Subject": tasks["Subject"].fillna(""),
                "Text": tasks["Subject"].fillna("") + "\n" + tasks["Description"].fillna(""),
            }
        ),
        pd.DataFrame(
            {
                "Id": events["Id"],
                "OpportunityId": events["WhatId"],
                "Kind": "meeting",
                "Inbound": False,
                "ContactId": events["WhoId"],
                "Happened": events["StartDateTime"]
                .fillna(events["ActivityDate"])
                .fillna(events["CreatedDate"]),
                "Created": events["CreatedDate"],
                "Subject": events["Subject"].fillna(""),
                "Text": events["Subject"].fillna("") + "\n" + events["Description"].fillna(""),
            }
        ),
        pd.DataFrame(
            {
                "Id": emails["Id"],
                "OpportunityId": emails["RelatedToId"],
                "Kind": "email",
                "Inbound": incoming,
                "ContactId": emails["FromAddress"].where(incoming),
                "To": emails["ToAddress"].where(~incoming),
                "Happened": emails["MessageDate"].fillna(emails["CreatedDate"]),
                "Created": emails["CreatedDate"],
                "Subject": emails["Subject"].fillna(""),
                "Text": emails["Subject"].fillna("") + "\n" + emails["TextBody"].fillna(""),
            }
        ),
    ]
    acts = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    if "To" not in acts:
        acts["To"] = None
    acts["Inbound"] = acts["Inbound"].astype(bool)
    for col in ("Happened", "Created"):
        acts[col] = pd.to_datetime(acts[col]).astype("datetime64[ns]")
    return acts.assign(Known=acts[["Happened", "Created"]].max(axis=1))
