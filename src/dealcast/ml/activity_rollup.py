"""A few deals' activities summed per deal in SQL, for features at the horizon only.

Scoring 500 changed deals reads ~90k activity rows, and Python pays per row and per value.
At the horizon H the activity features need per deal only: counts (emails each way, all
activities and meetings in the 30 days before H), the last buyer reply, how many rows carry
each text signal, and the contacts who engaged (replied, met, took a call), with their
touches inside the window. One query per activity table, grouped by deal and streamed in
index order, returns those; contacts come as lists (`SEP`-joined), split here.

Text-signal flags come from `activity_signal` (valid for the row's `_row_hash`; see
`activity_signals`). Rows without valid stored flags (new, edited, another signal version)
come back as a list of Ids per deal: their text is read, their flags computed and stored,
and added to the deal's sums. Hit or miss is decided in the statement that sums, so a
concurrent scorer storing flags cannot make a row count twice or not at all.

Known is max(when it happened, when it was created), as in `crm.activities`. SQLite keeps
dates as ISO text, date-only ("2026-05-31") or with microseconds; text order is the
instants' order, and a date-only value sorts before its own midnight, which puts a tie with
the window start outside the window and a tie with H inside it, as `EventIndex` does.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import DateTime, Select, Table, case, cast, false, func, literal, null
from sqlalchemy import type_coerce as coerce_type

from dealcast.crm.frames import datetimes
from dealcast.crm.pit import Snapshot
from dealcast.crm.schema import CRM_TABLES, activity_signal
from dealcast.ml.activity_signals import TEXT_SIGNALS as SIGNALS
from dealcast.ml.activity_signals import SignalCache, row_flags
from dealcast.ml.event_index import ACTIVITY_WINDOW_DAYS
from dealcast.risk import signal_cache

WINDOW = timedelta(days=ACTIVITY_WINDOW_DAYS)
SEP = "\x1f"  # joins the lists (unit separator: in no id or address)
COUNTS = ("Inbound", "Outbound", "InWindow", "MeetingsInWindow", *SIGNALS)
SOURCES = ("Task", "Event", "EmailMessage")
_DEAL = {"Task": "WhatId", "Event": "WhatId", "EmailMessage": "RelatedToId"}
_ALIAS = CRM_TABLES["Contact"].alias("canonical_contact")


@dataclass
class ActivitySummary:
    """`deals`: per deal (index OpportunityId) the COUNTS and LastInbound; `contacts`: who
    engaged (OpportunityId, ContactId: canonical, or the sender's address until
    `with_contacts` maps it; InWindow): each contact once per deal and source with InWindow
    false, and once per touch inside the window with InWindow true."""

    deals: pd.DataFrame
    contacts: pd.DataFrame

    def with_contacts(self, of_address: Callable[[pd.Series], pd.Series]) -> ActivitySummary:
        contacts = self.contacts.copy()
        address = contacts["Source"] == "EmailMessage"
        contacts.loc[address, "ContactId"] = of_address(contacts.loc[address, "ContactId"])
        return ActivitySummary(self.deals, contacts.drop(columns=["Source"]))


def summarise(snap: Snapshot, cache: SignalCache) -> ActivitySummary:
    # one query per table, side by side: SQLite runs each without holding the GIL
    with ThreadPoolExecutor(max_workers=len(SOURCES)) as pool:
        frames = list(pool.map(lambda n: snap.read_activities(n, _query(snap, cache, n)), SOURCES))
    deals = pd.concat(
        [
            f.rename(columns={"WhatId": "OpportunityId", "RelatedToId": "OpportunityId"})
            for f in frames
        ],
        ignore_index=True,
    )
    deals["LastInbound"] = datetimes(deals["LastInbound"].astype(object))
    for col in COUNTS:
        deals[col] = pd.to_numeric(deals[col]).fillna(0).astype("int64")
    contacts = _contacts(deals)
    summed = deals.groupby("OpportunityId").agg(
        {**{c: "sum" for c in COUNTS}, "LastInbound": "max"}
    )
    _add_missed_flags(cache, deals, summed)
    return ActivitySummary(summed, contacts)


def _contacts(deals: pd.DataFrame) -> pd.DataFrame:
    rows: list[tuple[str, str, bool, str]] = []
    columns = (deals[c].tolist() for c in ("OpportunityId", "Source", "Engaged", "Touches"))
    for deal, source, engaged, touches in zip(*columns, strict=True):
        if isinstance(engaged, str):  # who engaged at all: once each (else None or NaN)
            rows.extend((deal, c, False, source) for c in set(engaged.split(SEP)) if c)
        if isinstance(touches, str):  # touches inside the window: once per touch
            rows.extend((deal, c, True, source) for c in touches.split(SEP) if c)
    return pd.DataFrame(rows, columns=["OpportunityId", "ContactId", "InWindow", "Source"])


def _add_missed_flags(cache: SignalCache, deals: pd.DataFrame, summed: pd.DataFrame) -> None:
    """Rows without valid stored flags: read their text, detect, store (`row_flags`); their
    flags are added to their deal's signal counts in `summed`."""
    rows = [
        (deal, source, i)
        for deal, source, ids in zip(
            *(deals[c].tolist() for c in ("OpportunityId", "Source", "Missed")), strict=True
        )
        if isinstance(ids, str)
        for i in ids.split(SEP)
    ]
    if not rows:
        return
    missed = pd.DataFrame(rows, columns=["OpportunityId", "Source", "Id"])
    # known by H, so none of them has notes hidden at H
    missed = missed.assign(NotesHidden=False, CachedFlags=np.nan, CachedHidden=None)
    flags = row_flags(cache, missed)
    extra = (
        pd.DataFrame(
            {s: ((flags & signal_cache.BITS[s]) > 0).astype("int64") for s in SIGNALS},
            index=missed.index,
        )
        .groupby(missed["OpportunityId"].to_numpy())
        .sum()
    )
    summed[list(SIGNALS)] += extra.reindex(summed.index).fillna(0).astype("int64")


def _query(snap: Snapshot, cache: SignalCache, name: str) -> Select[Any]:
    table = CRM_TABLES[name]
    c = table.c
    known = _known(snap, table)
    at = snap.as_of
    window = known > literal(at - WINDOW, DateTime)
    flags = activity_signal.c.flags
    hit = activity_signal.c.activity_id.is_not(None)
    agg = _list_agg(snap)

    def count(cond: Any) -> Any:
        return func.sum(case((cond, 1), else_=0))

    email = name == "EmailMessage"
    none: Any = literal(0)  # a count that does not apply to this table (no work per row)
    inbound: Any = func.coalesce(c.Incoming, false()) if email else false()
    if email:
        engaged = case((inbound, c.FromAddress), else_=null())
    elif name == "Task":
        is_call = func.lower(func.coalesce(c.TaskSubtype, "")) == "call"
        engaged = case((is_call, _canonical(c.WhoId)), else_=null())
    else:
        engaged = _canonical(c.WhoId)
    columns = [
        c[_DEAL[name]],
        literal(name).label("Source"),
        (count(inbound) if email else none).label("Inbound"),
        (count(~inbound) if email else none).label("Outbound"),
        count(window).label("InWindow"),
        (count(window) if name == "Event" else none).label("MeetingsInWindow"),
        (func.max(case((inbound, known))) if email else null()).label("LastInbound"),
        *(count(flags.op("&")(signal_cache.BITS[s]) != 0).label(s) for s in SIGNALS),
        agg(engaged).label("Engaged"),
        agg(case((window, engaged), else_=null())).label("Touches"),
        agg(case((hit, null()), else_=c.Id)).label("Missed"),
    ]
    query = cache.join(snap.activity_query(name), table)
    if not email:  # an email seen at T was sent and logged by T; a task or meeting may be later
        query = query.where(known <= literal(at, DateTime))
        query = query.outerjoin(_ALIAS, _ALIAS.c.Id == c.WhoId)  # duplicates: canonical
    return query.with_only_columns(*columns).group_by(c[_DEAL[name]])


def _canonical(who: Any) -> Any:
    """As `Snapshot` reads WhoId: a duplicate's canonical contact (needs the `_ALIAS` join)."""
    return func.coalesce(_ALIAS.c.CanonicalId, who)


def _list_agg(snap: Snapshot) -> Callable[[Any], Any]:
    if snap.engine.dialect.name == "sqlite":
        return lambda expr: func.group_concat(expr, SEP)
    return lambda expr: func.string_agg(expr, SEP)


def _known(snap: Snapshot, table: Table) -> Any:
    """max(when it happened, when it was created), as `crm.activities.activity_frame`."""
    c = table.c
    if table is CRM_TABLES["EmailMessage"]:
        happened = func.coalesce(c.MessageDate, c.CreatedDate)
    elif table is CRM_TABLES["Event"]:
        happened = func.coalesce(c.StartDateTime, _stamp(snap, c.ActivityDate), c.CreatedDate)
    else:
        happened = func.coalesce(_stamp(snap, c.ActivityDate), c.CreatedDate)
    return coerce_type(case((happened > c.CreatedDate, happened), else_=c.CreatedDate), DateTime)


def _stamp(snap: Snapshot, day: Any) -> Any:
    """A date as a timestamp (midnight). SQLite keeps the ISO text (a CAST would make it a
    number); PostgreSQL casts."""
    if snap.engine.dialect.name == "sqlite":
        return coerce_type(day, DateTime)
    return cast(day, DateTime)
