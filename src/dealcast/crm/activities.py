"""Tasks, events and emails of a snapshot as one activity frame (shared by features and risks).

Columns: Id, OpportunityId (the WhatId/RelatedToId), Kind (call, task, meeting, email),
Inbound, ContactId (tasks/events: WhoId; inbound email: the sender's address), To (outbound
email: the recipients' addresses), Happened, Created, Known = max(Happened, Created) — the
instant the activity is known to have happened — Subject and Text (subject + body).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dealcast.crm.pit import Join, Snapshot
from dealcast.crm.schema import CRM_TABLES

# Per activity table: its deal column and the fields the frame needs besides the text.
SOURCES = {
    "Task": ("WhatId", ["Id", "WhatId", "WhoId", "TaskSubtype", "ActivityDate", "CreatedDate"]),
    "Event": ("WhatId", ["Id", "WhatId", "WhoId", "StartDateTime", "ActivityDate", "CreatedDate"]),
    "EmailMessage": (
        "RelatedToId",
        ["Id", "RelatedToId", "Incoming", "FromAddress", "ToAddress", "MessageDate", "CreatedDate"],
    ),
}
BODY = {"Task": "Description", "Event": "Description", "EmailMessage": "TextBody"}


def activity_text(subject: pd.Series, body: pd.Series) -> pd.Series:
    """The text signals are detected in (and cached by the hash of)."""
    return subject.fillna("") + "\n" + body.fillna("")


def activity_frame(snap: Snapshot, text: bool = True, join: Join | None = None) -> pd.DataFrame:
    """With `text=False`, no Subject/Text (the bodies are most of what a read costs) but
    `Source` (Task, Event or EmailMessage) and `NotesHidden` (the body is hidden at T: see
    `Snapshot.notes_hidden`), which with the row determine the text at T. Columns `join`
    adds to the reads (see `Snapshot.tasks`) are kept."""

    def fields(name: str) -> list[str]:
        return SOURCES[name][1] + (["Subject", BODY[name]] if text else [])

    tasks, events = snap.tasks(fields("Task"), join), snap.events(fields("Event"), join)
    emails = snap.emails(fields("EmailMessage"), join)
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
            }
        ),
    ]
    for part, (name, frame) in zip(
        parts, (("Task", tasks), ("Event", events), ("EmailMessage", emails)), strict=True
    ):
        for joined in frame.columns.difference(CRM_TABLES[name].c.keys(), sort=False):
            part[joined] = frame[joined]
        if text:
            part["Subject"] = frame["Subject"].fillna("")
            part["Text"] = activity_text(frame["Subject"], frame[BODY[name]])
        else:
            part["Source"] = name
            part["NotesHidden"] = snap.notes_hidden(frame, name).to_numpy(bool)
    acts = pd.concat([p for p in parts if len(p)] or parts[:1], ignore_index=True)
    if "To" not in acts:
        acts["To"] = None
    acts["Inbound"] = acts["Inbound"].astype(bool)
    for col in ("Happened", "Created"):
        acts[col] = pd.to_datetime(acts[col]).astype("datetime64[ns]")
    return acts.assign(Known=acts[["Happened", "Created"]].max(axis=1))
