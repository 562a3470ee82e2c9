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

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd

from dealcast.crm import custom_fields
from dealcast.crm.activities import activity_frame
from dealcast.crm.dedup import normalise_email
from dealcast.crm.stages import StageConfig
from dealcast.crm.store import Store
from dealcast.ml.activity_rollup import ActivitySummary, summarise
from dealcast.ml.activity_signals import TEXT_SIGNALS, SignalCache, row_flags, text_flags
from dealcast.ml.org_context import org_context
from dealcast.ml.spells import StageSpells, stage_spells
from dealcast.risk import signal_cache
from dealcast.risk.context_text import colliding_names
from dealcast.risk.text_patterns import TextSignals

_ADDRESS_SEPARATORS = re.compile(r"[;,]")  # an email's first recipient ends at ; or ,
# what `activity_frame(text=False)` and `SignalCache.join` add for the flags lookup
_ROW_COLUMNS = ["Source", "NotesHidden", "CachedFlags", "CachedHidden"]
DM_ROLES = ("Decision Maker", "Economic Buyer", "Economic Decision Maker", "Executive Sponsor")


@dataclass
class FeatureInputs:
    horizon: datetime
    stages: StageConfig
    # Loaded for a few deals, opps and history hold theirs only: what features need of other
    # deals is in closes and spells.
    opps: pd.DataFrame  # one row per deal known at H: ids, CreatedDate, current fields
    history: pd.DataFrame  # state changes, oldest first, with run/slip bookkeeping
    activities: pd.DataFrame  # OpportunityId, Known, Kind, Inbound, ContactId, signal flags
    roles: pd.DataFrame  # OpportunityId, ContactId, Role, IsPrimary, CreatedDate
    closes: pd.DataFrame  # deals closed by H: OpportunityId, AccountId, OwnerId, ClosedAt, IsWon
    spells: StageSpells | None = None  # the org's stage spells, when precomputed
    # mapped CRM custom fields known by H (`custom_fields.history`: RecordId, Feature, ...)
    crm_fields: pd.DataFrame | None = None
    # instead of `activities` (then empty): their sums per deal at the horizon, read when
    # features are wanted at the horizon only (`activity_rollup`)
    activity_summary: ActivitySummary | None = None

    @classmethod
    def load(
        cls,
        store: Store,
        horizon: datetime,
        opportunity_ids: Iterable[str] | None = None,
        signals: TextSignals | None = None,
        horizon_only: bool = False,
    ) -> FeatureInputs:
        """With `opportunity_ids` and `horizon_only` (features wanted at the horizon only, as
        the feature store wants them), activities come summed per deal from SQL
        (`activity_rollup.summarise`): `compute` then refuses other times."""
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
            opps, closes = _opps(state), _closes(state)
        else:  # a few deals: org-wide parts from the hourly cache (see org_context)
            splice = org_context(store, scoped)
            org = splice.org
            # Features of the targets need their own rows, and of other deals only org-level
            # statistics: closes and spells, cut to what they use once per cached org, with
            # the targets' rows replaced per call.
            opps = _opps(splice.state)
            closes = splice.replace(
                org.derive("closes", lambda: _closes(org.state)), _closes(splice.state)
            )
            history = history_with_slips(splice.history, splice.state)  # the targets' own
            # spells are per deal: the org's come from the cache, the targets' are exact at T
            org_spells = org.derive(
                "spells",
                lambda: StageSpells.build(stage_spells(history_with_slips(org.history, org.state))),
            )
            spells = org_spells.replace(splice.ids, StageSpells.build(stage_spells(history)))
            by_email = org.derive("emails", lambda: email_index(org.contacts))
            masked = org.derive(
                f"masked:{signals.competitors}",
                lambda: colliding_names(_people(org.contacts, scoped.users()), signals),
            )
        cache = SignalCache(store.engine, signals, masked, scoped.as_of)
        summary = None
        if horizon_only and ids is not None:  # per-deal sums from SQL (`activity_rollup`)
            summary = summarise(scoped, cache).with_contacts(lambda a: contacts_of(a, by_email))
            activities = pd.DataFrame(columns=["OpportunityId", "Kind", "Inbound", "ContactId"])
        else:
            activities = _activities(cache, scoped, by_email, horizon)
        roles = scoped.contact_roles()[
            ["OpportunityId", "ContactId", "Role", "IsPrimary", "CreatedDate"]
        ]
        return cls(
            horizon=scoped.as_of,
            stages=store.stages,
            opps=opps,
            history=history,
            activities=activities,
            roles=roles.reset_index(drop=True),
            closes=closes,
            spells=spells,
            crm_fields=custom_fields.history(store, scoped.as_of, "Opportunity", None, ids),
            activity_summary=summary,
        )


def _opps(state: pd.DataFrame) -> pd.DataFrame:
    opps = state[["Id", "AccountId", "OwnerId", "CreatedDate", "LastModifiedDate"]]
    return opps.rename(columns={"Id": "OpportunityId"}).reset_index(drop=True)


def _closes(state: pd.DataFrame) -> pd.DataFrame:
    closes = state.loc[state["IsClosed"], ["Id", "AccountId", "OwnerId", "ClosedAt", "IsWon"]]
    return closes.rename(columns={"Id": "OpportunityId"}).reset_index(drop=True)


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
    cache: SignalCache, snap: Any, by_email: dict[str, str], horizon: datetime
) -> pd.DataFrame:
    if snap.opportunity_ids is None:
        acts = activity_frame(snap)
    else:  # a few deals: no bodies; each row comes with its stored flags (activity_signals)
        acts = activity_frame(snap, text=False, join=cache.join)
    deals = [d for d in pd.unique(acts["OpportunityId"].dropna()) if d.startswith("006")]
    acts = acts[acts["OpportunityId"].isin(deals)]
    is_email = acts["Kind"] == "email"
    # an email's contact: the sender when it came in, the first recipient when it went out
    address = acts.loc[is_email, "ContactId"].where(
        acts.loc[is_email, "Inbound"], acts.loc[is_email, "To"]
    )
    acts.loc[is_email, "ContactId"] = contacts_of(address, by_email)
    acts = acts[acts["Known"] <= pd.Timestamp(horizon)]
    flags = _signal_flags(cache, snap, acts)
    drop = ["Text", "Subject", "To", "Happened", "Created", *_ROW_COLUMNS]
    acts = pd.concat([acts.drop(columns=drop, errors="ignore"), flags], axis=1)
    return acts.reset_index(drop=True)


def contacts_of(addresses: pd.Series, by_email: dict[str, str]) -> pd.Series:
    """The canonical contact of each address (its first one), None when unknown."""
    raw = addresses.fillna("")
    # the same address recurs on many emails: parse and look up each distinct one once
    contact_of = {
        a: by_email.get(normalise_email(_ADDRESS_SEPARATORS.split(a)[0]) or "")
        for a in pd.unique(raw)
    }
    return raw.map(contact_of.__getitem__)


def _signal_flags(cache: SignalCache, snap: Any, acts: pd.DataFrame) -> pd.DataFrame:
    """TEXT_SIGNALS per activity from the text-signal cache (see `activity_signals`)."""
    if "Text" in acts:
        flags = text_flags(cache, snap.opportunity_ids, acts)
    else:
        flags = row_flags(cache, acts)
    return pd.DataFrame(
        {name: (flags & signal_cache.BITS[name]) > 0 for name in TEXT_SIGNALS}, index=acts.index
    )
