"""Everything the features need, read once from the point-in-time view at a horizon H.

Features are then computed for any (deal, t) with t <= H by filtering on time in memory,
so one load serves every weekly training snapshot. The rule that makes this equal to
reading the store as of t: each row gets the instant from which it was known, and a
feature at t only uses rows known at or before t.
- history rows: their CreatedDate;
- activities: max(CreatedDate, when it happened) (a call logged late counts from the log;
  a meeting counts once it has started);
- closes: when the deal entered its final closed stage.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select, union_all

from dealcast.crm import custom_fields
from dealcast.crm.activities import activity_frame
from dealcast.crm.dedup import normalise_email
from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.schema import CRM_TABLES, text_signal
from dealcast.crm.stages import StageConfig
from dealcast.crm.store import Store
from dealcast.ml.org_context import org_context
from dealcast.risk import signal_cache
from dealcast.risk.context_text import colliding_names, mask_names
from dealcast.risk.signal_cache import cached_signals
from dealcast.risk.text_patterns import TextSignals

TEXT_SIGNALS = ("pricing", "competitor", "budget_confirmed", "contract_review")
_ADDRESS_SEPARATORS = re.compile(r"[;,]")  # an email's first recipient ends at ; or ,
_ACTIVITY_TABLES = (("Task", "WhatId"), ("Event", "WhatId"), ("EmailMessage", "RelatedToId"))
DM_ROLES = ("Decision Maker", "Economic Buyer", "Economic Decision Maker", "Executive Sponsor")


@dataclass
class FeatureInputs:
    horizon: datetime
    stages: StageConfig
    opps: pd.DataFrame  # one row per deal known at H: ids, CreatedDate, current fields
    history: pd.DataFrame  # state changes, oldest first, with run/slip bookkeeping
    activities: pd.DataFrame  # OpportunityId, Known, Kind, Inbound, ContactId, signal flags
    roles: pd.DataFrame  # OpportunityId, ContactId, Role, IsPrimary, CreatedDate
    closes: pd.DataFrame  # deals closed by H: OpportunityId, AccountId, OwnerId, ClosedAt, IsWon
    spells: pd.DataFrame | None = None  # `features.stage_spells(history)`, when precomputed
    # mapped CRM custom fields known by H (`custom_fields.history`: RecordId, Feature, ...)
    crm_fields: pd.DataFrame | None = None

    @classmethod
    def load(
        cls,
        store: Store,
        horizon: datetime,
        opportunity_ids: Iterable[str] | None = None,
        signals: TextSignals | None = None,
    ) -> FeatureInputs:
        ids = None if opportunity_ids is None else sorted(set(opportunity_ids))
        signals = signals or TextSignals()
        scoped = store.as_of(horizon, ids)
        spells = None
        if ids is None:  # everything, exactly at the horizon (training, backtests)
            full = store.as_of(horizon)
            state, contacts = full.opportunities(), full.contacts()
            history = history_with_slips(full.history(), state)
            by_email = email_index(contacts)
            masked = colliding_names(_people(contacts, full.users()), signals)
        else:  # a few deals: org-wide parts from the hourly cache (see org_context)
            splice = org_context(store, scoped)
            org = splice.org
            state = pd.concat(
                [splice.without_targets(org.state, "Id"), splice.state], ignore_index=True
            )
            org_history = org.derive("history", lambda: history_with_slips(org.history, org.state))
            target_history = history_with_slips(splice.history, splice.state)
            history = pd.concat(
                [splice.without_targets(org_history, "OpportunityId"), target_history],
                ignore_index=True,
            )
            # spells are per deal: the org's come from the cache, the targets' are exact at T
            org_spells = org.derive("spells", lambda: stage_spells(org_history))
            spells = pd.concat(
                [splice.without_targets(org_spells, "OpportunityId"), stage_spells(target_history)],
                ignore_index=True,
            )
            by_email = org.derive("emails", lambda: email_index(org.contacts))
            masked = org.derive(
                f"masked:{signals.competitors}",
                lambda: colliding_names(_people(org.contacts, scoped.users()), signals),
            )
        opps = state[["Id", "AccountId", "OwnerId", "CreatedDate", "LastModifiedDate"]].copy()
        closes = state.loc[state["IsClosed"], ["Id", "AccountId", "OwnerId", "ClosedAt", "IsWon"]]
        activities = _activities(store, scoped, by_email, masked, signals, horizon)
        roles = scoped.contact_roles()[
            ["OpportunityId", "ContactId", "Role", "IsPrimary", "CreatedDate"]
        ]
        return cls(
            horizon=scoped.as_of,
            stages=store.stages,
            opps=opps.rename(columns={"Id": "OpportunityId"}).reset_index(drop=True),
            history=history,
            activities=activities,
            roles=roles.reset_index(drop=True),
            closes=closes.rename(columns={"Id": "OpportunityId"}).reset_index(drop=True),
            spells=spells,
            crm_fields=custom_fields.history(store, scoped.as_of, "Opportunity", None, ids),
        )


def history_with_slips(hist: pd.DataFrame, state: pd.DataFrame) -> pd.DataFrame:
    """History rows plus, for deals with none, their current values from LastModifiedDate
    (only when that is provably their state: `PitSource == "current"`)."""
    cols = ["OpportunityId", "StageName", "Amount", "CloseDate", "Probability", "CreatedDate"]
    hist = hist[cols]
    missing = state[(state["PitSource"] == "current") & ~state["Id"].isin(hist["OpportunityId"])]
    if len(missing):
        synthetic = pd.DataFrame(
            {
                "OpportunityId": missing["Id"],
                "StageName": missing["StageName"],
                "Amount": missing["Amount"],
                "CloseDate": missing["CloseDate"],
                "Probability": missing["Probability"],
                "CreatedDate": missing["LastModifiedDate"].fillna(missing["CreatedDate"]),
            }
        )
        hist = pd.concat([hist, synthetic], ignore_index=True)
    hist = hist.sort_values(["OpportunityId", "CreatedDate"], kind="stable").reset_index(drop=True)
    same_deal = hist["OpportunityId"] == hist["OpportunityId"].shift()
    new_run = (hist["StageName"] != hist["StageName"].shift()) | ~same_deal
    hist["StageEnteredAt"] = hist["CreatedDate"].where(new_run).ffill()
    pushed = (hist["CloseDate"] - hist["CloseDate"].shift()).dt.days.where(same_deal)
    hist["SlipCount"] = (pushed > 0).astype(int).groupby(hist["OpportunityId"]).cumsum()
    hist["DaysPushed"] = pushed.clip(lower=0).fillna(0).groupby(hist["OpportunityId"]).cumsum()
    hist["FirstAmount"] = hist.groupby("OpportunityId")["Amount"].transform("first")
    return hist


def stage_spells(history: pd.DataFrame) -> pd.DataFrame:
    """Completed stage spells (OpportunityId, StageName, StageEnteredAt, End, Days) in a
    `history_with_slips` frame. Each deal's spells depend on its own rows only."""
    runs = history[history["StageEnteredAt"] == history["CreatedDate"]][
        ["OpportunityId", "StageName", "StageEnteredAt"]
    ]
    ended = runs.groupby("OpportunityId")["StageEnteredAt"].shift(-1)
    spells = runs.assign(End=ended).dropna(subset=["End"])
    return spells.assign(
        Days=(spells["End"] - spells["StageEnteredAt"]).dt.total_seconds() / 86_400
    )


def email_index(contacts: pd.DataFrame) -> dict[str, str]:
    """Normalised email -> canonical contact Id."""
    return {
        key: contact_id
        for contact_id, email in zip(contacts["Id"], contacts["Email"], strict=True)
        if (key := normalise_email(email))
    }


def _people(contacts: pd.DataFrame, users: pd.DataFrame) -> pd.Series:
    """Full names of everyone on either side: a surname like "Price" must not read as a
    pricing discussion (the same masking as the risk detectors, so they share the cache)."""
    names = contacts["FirstName"].fillna("") + " " + contacts["LastName"].fillna("")
    return pd.concat([names, users["Name"]], ignore_index=True)


def _activities(
    store: Store,
    snap: Any,
    by_email: dict[str, str],
    masked: list[str],
    signals: TextSignals,
    horizon: datetime,
) -> pd.DataFrame:
    acts = activity_frame(snap)
    acts = acts[acts["OpportunityId"].fillna("").str.startswith("006")]
    is_email = acts["Kind"] == "email"
    # an email's contact: the sender when it came in, the first recipient when it went out
    address = acts.loc[is_email, "ContactId"].where(
        acts.loc[is_email, "Inbound"], acts.loc[is_email, "To"]
    )
    # the same address recurs on many emails: parse and look up each distinct one once
    raw = address.fillna("")
    contact_of = {
        a: by_email.get(normalise_email(_ADDRESS_SEPARATORS.split(a)[0]) or "")
        for a in pd.unique(raw)
    }
    acts.loc[is_email, "ContactId"] = raw.map(contact_of.__getitem__)
    acts = acts[acts["Known"] <= pd.Timestamp(horizon)]
    flags = _signal_flags(store, snap, acts, masked, signals)
    drop = ["Text", "Subject", "To", "Happened", "Created"]
    acts = pd.concat([acts.drop(columns=drop), flags], axis=1)
    return acts.reset_index(drop=True)


def _signal_flags(
    store: Store, snap: Any, acts: pd.DataFrame, masked: list[str], signals: TextSignals
) -> pd.DataFrame:
    """TEXT_SIGNALS per activity from the text-signal cache (`cached_signals`).

    The cached flags of the snapshot's activities are fetched in one query joined to the
    activity tables (instead of one lookup per 900 activity ids); only texts that are not
    cached under their exact (id, text hash, version) go through `cached_signals`, which
    computes and stores them. A hit is the value `cached_signals` would return."""
    prepare_key = "mask:" + "|".join(masked)
    ver = signal_cache.version(signals)
    ver = hashlib.sha256(f"{ver}:{prepare_key}".encode()).hexdigest()[:16]  # as cached_signals
    texts = acts["Text"].fillna("").tolist()
    hashes = [hashlib.md5(t.encode(), usedforsecurity=False).hexdigest() for t in texts]
    stored = _stored_flags(store, snap.opportunity_ids, ver)
    ids = acts["Id"].astype(str).tolist()
    flags = np.array([stored.get((i, h), -1) for i, h in zip(ids, hashes, strict=True)], np.int64)
    todo = np.flatnonzero(flags < 0)
    if len(todo):
        fresh = cached_signals(
            store.engine,
            acts["Id"].iloc[todo],
            acts["Text"].iloc[todo],
            signals,
            prepare=lambda texts: mask_names(texts, masked),
            prepare_key=prepare_key,
        )
        bits = np.zeros(len(todo), dtype=np.int64)
        for name, bit in signal_cache.BITS.items():
            bits |= np.where(fresh[name].to_numpy(bool), bit, 0)
        flags[todo] = bits
    return pd.DataFrame(
        {name: (flags & signal_cache.BITS[name]) > 0 for name in TEXT_SIGNALS}, index=acts.index
    )


def _stored_flags(
    store: Store, opportunity_ids: list[str] | None, ver: str
) -> dict[tuple[str, str], int]:
    """(activity id, text hash) -> cached flags, for the activities of these deals."""
    ts = text_signal.c
    query = select(ts.activity_id, ts.text_hash, ts.flags).where(ts.version == ver)
    chunks: list[list[str] | None] = [None]
    if opportunity_ids is not None:
        chunks = [
            opportunity_ids[i : i + IN_CHUNK] for i in range(0, len(opportunity_ids), IN_CHUNK)
        ]
    out: dict[tuple[str, str], int] = {}
    with store.engine.connect() as conn:
        for chunk in chunks:
            scoped = query
            if chunk is not None:
                parts = [
                    select(CRM_TABLES[table].c.Id).where(CRM_TABLES[table].c[column].in_(chunk))
                    for table, column in _ACTIVITY_TABLES
                ]
                scoped = query.where(ts.activity_id.in_(union_all(*parts)))
            rows: Sequence[Any] = conn.execute(scoped).all()
            out.update({(r[0], r[1]): r[2] for r in rows})
    return out
