"""Tasks, events and emails of the open deals as one activity frame, with text signals.

An activity is used once it had happened and been logged (`Known = max(Happened, Created)
<= T`), the same rule as the scoring features; planned to-dos and meetings dated after T are
left out. Columns:
  Id, OpportunityId, Kind (call/task/meeting/email), Inbound, ContactId (buyer contact: the
  task/event WhoId, an inbound email's sender), Happened, Known, Subject, Text (masked, see
  context_text), one bool column per text signal, and
  NoAnswer    a call that went to voicemail or was not picked up (an attempt, not a talk)
  Meaningful  the buyer took part: an inbound email, a meeting or a call that connected
              (so its text is the buyer's words or notes of a conversation with them)
  Named       names a competitor (configured or discovered)
  Chase       an outbound email in chase wording ("I haven't heard back"): the seller
              states that the contact went quiet
  OnHold      says the deal is paused ("priorities have shifted", "on hold"), in the
              buyer's words or the seller's notes
  pricing_stated, competitor_stated
              the flag is set and the signal's phrase itself is in the text, so it can be
              quoted (a looser learned flag alone is context, not evidence)
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from dealcast.crm.activities import activity_frame
from dealcast.crm.dedup import normalise_email
from dealcast.crm.pit import Snapshot
from dealcast.crm.store import Store
from dealcast.risk.context_text import (
    CHASE,
    NO_ANSWER,
    ON_HOLD,
    discover_competitors,
    mask_people,
    mentions,
)
from dealcast.risk.signal_cache import cached_signals
from dealcast.risk.text_patterns import SIGNALS, TextSignals

STATED = ("pricing", "competitor")  # signals that count only with a quotable phrase


def load_activities(
    store: Store,
    scoped: Snapshot,
    full: Snapshot,
    contacts: pd.DataFrame,
    signals: TextSignals,
    keep: Iterable[str],
    discovered: tuple[str, ...] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[str, ...]]:
    """(activities of the `keep` deals, outbound-email recipients, competitor names in use).

    Competitor names are discovered from the `keep` deals' own text unless `discovered`
    (names found over the whole pipeline, `org_level`) is given, so one deal gets the same
    names as the whole pipeline."""
    by_email = {
        e: i
        for i, e in zip(contacts["Id"], contacts["Email"].map(normalise_email), strict=True)
        if e
    }
    users = full.users()
    sellers = {normalise_email(e) for e in users["Email"]} - {None}
    acts = _frame(scoped, set(keep))
    acts = acts[acts["Known"] <= pd.Timestamp(scoped.as_of)].reset_index(drop=True)
    inbound = acts["Kind"].eq("email") & acts["Inbound"]
    # An inbound sender who is not a known contact is still a buyer-side person (keyed by
    # address) unless the address is one of our own users.
    sender = acts.loc[inbound, "ContactId"].map(normalise_email)
    sender = sender.where(~sender.isin(sellers))
    acts.loc[inbound, "ContactId"] = sender.map(lambda a: by_email.get(a, a) if a else None)
    recipients = _recipients(acts, by_email)
    people = pd.concat(
        [contacts["FirstName"].fillna("") + " " + contacts["LastName"].fillna(""), users["Name"]]
    )
    acts["Text"] = mask_people(acts["Text"], people, signals)
    flags = cached_signals(store.engine, acts["Id"], acts["Text"], signals)[list(SIGNALS)]
    acts = pd.concat([acts.drop(columns=["To", "Created"]), flags], axis=1)
    if discovered is None:
        exclude = pd.concat([contacts["FirstName"], contacts["LastName"], users["Name"]])
        discovered = tuple(discover_competitors(acts["Text"], acts["OpportunityId"], exclude))
    names = tuple(sorted(set(signals.competitors) | set(discovered)))
    _derive(acts, names, signals)
    acts = acts.sort_values(["OpportunityId", "Known", "Id"], kind="stable")
    return acts.reset_index(drop=True), recipients, names


def discover_names(
    snap: Snapshot,
    pipeline: set[str],
    contacts: pd.DataFrame,
    users: pd.DataFrame,
    signals: TextSignals,
) -> tuple[str, ...]:
    """Competitor names discovered in the text of the `pipeline` deals known at the snapshot
    (people's names masked first, so a contact is never taken for a competitor)."""
    corpus = _frame(snap, pipeline)
    corpus = corpus[corpus["Known"] <= pd.Timestamp(snap.as_of)]
    people = pd.concat(
        [contacts["FirstName"].fillna("") + " " + contacts["LastName"].fillna(""), users["Name"]]
    )
    text = mask_people(corpus["Text"], people, signals)
    exclude = pd.concat([contacts["FirstName"], contacts["LastName"], users["Name"]])
    return tuple(discover_competitors(text, corpus["OpportunityId"], exclude))


def _frame(snap: Snapshot, keep: set[str]) -> pd.DataFrame:
    acts = activity_frame(snap)
    return acts[acts["OpportunityId"].isin(keep)]


def _recipients(acts: pd.DataFrame, by_email: dict[str, str]) -> pd.DataFrame:
    """One row per (outbound email, known buyer contact it was sent to)."""
    out = acts.loc[acts["Kind"].eq("email") & ~acts["Inbound"], ["Id", "OpportunityId", "To"]]
    exploded = out.assign(To=out["To"].fillna("").str.split(r"[;,]")).explode("To")
    contact = exploded["To"].map(lambda a: by_email.get(normalise_email(a) or ""))
    exploded = exploded.assign(ContactId=contact).dropna(subset=["ContactId"])
    exploded = exploded.drop_duplicates(["Id", "ContactId"])
    return exploded[["Id", "OpportunityId", "ContactId"]].reset_index(drop=True)


def _derive(acts: pd.DataFrame, names: tuple[str, ...], signals: TextSignals) -> None:
    kind = acts["Kind"]
    inbound_email = kind.eq("email") & acts["Inbound"]
    call = kind.eq("call")
    acts["NoAnswer"] = call & acts["Text"].str.contains(NO_ANSWER)
    acts["Meaningful"] = inbound_email | kind.eq("meeting") | (call & ~acts["NoAnswer"])
    acts["Named"] = mentions(acts["Text"], names)
    acts["Chase"] = kind.eq("email") & ~acts["Inbound"] & acts["Text"].str.contains(CHASE)
    acts["OnHold"] = acts["Text"].str.contains(ON_HOLD)
    for signal in STATED:
        flagged = acts[signal].to_numpy()
        search = signals.compiled(signal).search
        stated = np.zeros(len(acts), dtype=bool)
        stated[flagged] = [search(t) is not None for t in acts.loc[flagged, "Text"]]
        acts[f"{signal}_stated"] = stated
