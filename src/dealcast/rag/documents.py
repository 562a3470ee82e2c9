"""Index documents from the store: one per email, task, meeting and NextStep, chunked.

Every chunk carries the metadata that search filters on (deal, account, owner, kind,
direction, dates) and what a passage shows (contact, role, subject). Rules:
- `ts` is when the activity happened; `known_ts` = max(happened, created), the instant the
  index may show it: an `until` filter cuts on `known_ts`, so a note logged after T (even
  one back-dated before T) never leaks into a search as of T. NextStep has no history: it is
  known from the opportunity's last modification.
- The owner is the deal's owner (what visibility rules key on); activities not on a deal
  take the activity's owner, else the account's.
- A contact role is attached with `role_ts` (when the role was recorded), so a search as of
  T can drop a role assigned after T.
- Deleted rows are not documents (an update removes them from the index).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select

from dealcast.crm.schema import CRM_TABLES
from dealcast.crm.store import Store

CHUNK_WORDS = 160  # ~200 MiniLM tokens: inside its 256-token window
OVERLAP_WORDS = 30
KINDS = ("email", "call", "meeting", "task", "next_step")
_WORD = re.compile(r"\S+")
# Salesforce logs emails sent from Outlook/Gmail as Tasks with TaskSubtype "Email"
_TASK_KINDS = {"call": "call", "email": "email", "listemail": "email"}


@dataclass(frozen=True)
class Document:
    doc_id: str
    text: str
    metadata: dict[str, str | int | float | bool]  # None values are left out (Chroma)

    @property
    def text_hash(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()[:32]

    @property
    def meta_hash(self) -> str:
        blob = json.dumps(self.metadata, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:32]


def chunk_text(text: str, words: int = CHUNK_WORDS, overlap: int = OVERLAP_WORDS) -> list[str]:
    """Paragraph-aware windows of at most `words` words; a paragraph longer than that is cut
    into overlapping windows. Whitespace inside a paragraph is kept verbatim."""
    if overlap >= words:
        raise ValueError("overlap must be smaller than the chunk size")
    chunks: list[str] = []
    current: list[str] = []
    size = 0
    for para in (p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()):
        n = len(_WORD.findall(para))
        if size and size + n > words:
            chunks.append("\n\n".join(current))
            current, size = [], 0
        if n <= words:
            current.append(para)
            size += n
            continue
        spans = [m.span() for m in _WORD.finditer(para)]
        for start in range(0, n, words - overlap):
            window = spans[start : start + words]
            chunks.append(para[window[0][0] : window[-1][1]])
            if start + words >= n:
                break
    if current:
        chunks.append("\n\n".join(current))
    return chunks or [text.strip()]


def _epoch(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        # rounded up: a note known at 12:00:00.7 must not pass an `until` of 12:00:00
        return math.ceil((value - datetime(1970, 1, 1)).total_seconds())
    if isinstance(value, date):
        return _epoch(datetime.combine(value, time()))
    raise TypeError(f"not a date: {value!r}")


class _Lookups:
    """Deals, accounts, contacts and roles, read once per build."""

    def __init__(self, store: Store) -> None:
        t = CRM_TABLES
        with store.engine.connect() as conn:
            opp = t["Opportunity"]
            self.deals = {
                r.Id: r for r in conn.execute(select(opp).where(opp.c.IsDeleted.is_(False))).all()
            }
            acc = t["Account"]
            query = select(acc.c.Id, acc.c.OwnerId).where(acc.c.IsDeleted.is_(False))
            self.account_owner: dict[str, str | None] = {
                r.Id: r.OwnerId for r in conn.execute(query)
            }
            con = t["Contact"]
            rows = conn.execute(select(con).where(con.c.IsDeleted.is_(False))).all()
            self.canonical = {r.Id: r.CanonicalId for r in rows}
            self.contacts = {r.Id: r for r in rows if r.Id == r.CanonicalId}
            self.by_email = {r.EmailNormalized: r.CanonicalId for r in rows if r.EmailNormalized}
            ocr = t["OpportunityContactRole"]
            self.roles: dict[tuple[str, str], tuple[str, datetime]] = {}
            query = select(ocr).where(ocr.c.IsDeleted.is_(False)).order_by(ocr.c.CreatedDate)
            for r in conn.execute(query):
                if r.Role:  # the earliest recorded role per deal and contact
                    key = (r.OpportunityId, self.canonical.get(r.ContactId, r.ContactId))
                    self.roles.setdefault(key, (r.Role, r.CreatedDate))

    def contact_by_email(self, address: str | None) -> str | None:
        first = (address or "").replace(";", ",").split(",")[0].strip().lower()
        return self.by_email.get(first) if first else None

    def base(self, what_id: str | None, activity_owner: str | None) -> dict[str, Any]:
        deal = self.deals.get(what_id or "")
        if deal is not None:
            return {"deal_id": deal.Id, "account_id": deal.AccountId, "owner_id": deal.OwnerId}
        if what_id and what_id.startswith("006"):
            return {}  # a deleted (or unknown) deal: nothing to index
        account = what_id if what_id and what_id.startswith("001") else None
        owner = activity_owner or self.account_owner.get(account or "")
        return {"deal_id": None, "account_id": account, "owner_id": owner}

    def contact_meta(self, deal_id: str | None, contact_id: str | None) -> dict[str, Any]:
        contact_id = self.canonical.get(contact_id or "", contact_id)
        contact = self.contacts.get(contact_id or "")
        if contact is None:
            return {}
        name = " ".join(p for p in (contact.FirstName, contact.LastName) if p)
        meta: dict[str, Any] = {
            "contact_id": contact.Id,
            "contact_name": name,
            "contact_title": contact.Title,
        }
        role = self.roles.get((deal_id or "", contact.Id))
        if role:
            meta["contact_role"], meta["role_ts"] = role[0], _epoch(role[1])
        return meta


def build_documents(store: Store) -> Iterator[Document]:
    """Every document the index should hold now (deleted rows excluded)."""
    look = _Lookups(store)
    yield from _tasks_and_events(store, look)
    yield from _emails(store, look)
    yield from _next_steps(look)


def _emit(
    activity_id: str, kind: str, subject: str | None, body: str | None, meta: dict[str, Any]
) -> Iterator[Document]:
    text = "\n".join(p for p in (subject, body) if p and p.strip())
    if not text.strip():
        return
    meta = {"activity_id": activity_id, "kind": kind, "subject": subject, **meta}
    clean = {k: v for k, v in meta.items() if v is not None}
    for no, chunk in enumerate(chunk_text(text)):
        yield Document(f"{activity_id}#{no}", chunk, {**clean, "chunk": no})


def _tasks_and_events(store: Store, look: _Lookups) -> Iterator[Document]:
    for name in ("Task", "Event"):
        tab = CRM_TABLES[name]
        with store.engine.connect() as conn:
            rows = conn.execute(select(tab).where(tab.c.IsDeleted.is_(False))).all()
        for r in rows:
            base = look.base(r.WhatId, r.OwnerId)
            if not base:
                continue
            if name == "Event":
                kind = "meeting"
                happened = r.StartDateTime or r.ActivityDate or r.CreatedDate
            else:
                kind = _TASK_KINDS.get((r.TaskSubtype or "").lower(), "task")
                happened = r.ActivityDate or r.CreatedDate
            ts = _epoch(happened)
            meta = {
                **base,
                **look.contact_meta(base["deal_id"], r.WhoId),
                "direction": None,  # the export has no call direction
                "ts": ts,
                "known_ts": max(ts or 0, _epoch(r.CreatedDate) or 0),
            }
            yield from _emit(r.Id, kind, r.Subject, r.Description, meta)


def _emails(store: Store, look: _Lookups) -> Iterator[Document]:
    tab = CRM_TABLES["EmailMessage"]
    with store.engine.connect() as conn:
        rows = conn.execute(select(tab).where(tab.c.IsDeleted.is_(False))).all()
    for r in rows:
        base = look.base(r.RelatedToId, None)
        if not base:
            continue
        inbound = bool(r.Incoming)
        contact = look.contact_by_email(r.FromAddress if inbound else r.ToAddress)
        ts = _epoch(r.MessageDate or r.CreatedDate)
        meta = {
            **base,
            **look.contact_meta(base["deal_id"], contact),
            "direction": "inbound" if inbound else "outbound",
            "ts": ts,
            "known_ts": max(ts or 0, _epoch(r.CreatedDate) or 0),
        }
        yield from _emit(r.Id, "email", r.Subject, r.TextBody, meta)


def _next_steps(look: _Lookups) -> Iterator[Document]:
    for deal in look.deals.values():
        if not (deal.NextStep or "").strip():
            continue
        # NextStep has no history: it is known only from the deal's last modification
        ts = _epoch(deal.LastModifiedDate or deal.CreatedDate)
        meta = {
            "deal_id": deal.Id,
            "account_id": deal.AccountId,
            "owner_id": deal.OwnerId,
            "ts": ts,
            "known_ts": ts,
            "activity_id": deal.Id,
            "kind": "next_step",
            "subject": deal.Name,
        }
        clean = {k: v for k, v in meta.items() if v is not None}
        yield Document(f"{deal.Id}:next_step#0", deal.NextStep.strip(), {**clean, "chunk": 0})
