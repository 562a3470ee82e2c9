"""Everything the risk detectors read, loaded once from one point-in-time Snapshot at T.

Nothing here looks past T: deals, history, roles and contacts come from `store.as_of(T)`,
activities are used once known at T (see context_activities), competitor names are
discovered from text known at T, and stage durations are learned from history at T.

Scoped loads (a chat question about a deal) reuse org-wide reads within the hour:
competitor names and stage durations (`org_level`, as of the hour's start) and the org's
contacts, read once per (database, data version, hour) as of the first request T1 and used
for later requests T >= T1 of that hour (never for an earlier T, so never from after T).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar, cast

import pandas as pd

from dealcast.crm.pit import Snapshot
from dealcast.crm.stages import StageConfig
from dealcast.crm.store import Store
from dealcast.ml.feature_inputs import DM_ROLES
from dealcast.ml.org_context import data_version
from dealcast.risk.context_activities import load_activities
from dealcast.risk.context_stages import stage_durations
from dealcast.risk.org_level import org_level
from dealcast.risk.text_patterns import TextSignals

R = TypeVar("R")

# "Late" starts at the first open stage a deal only reaches once a proposal is close:
# probability >= 70 % is Perception Analysis onwards in Salesforce's standard stage set.
LATE_STAGE_PROBABILITY = 70.0
# Org-wide reads shared by scoped loads. Misses are serialised (one org read at a time, the
# waiting threads then hit), so concurrent questions at the top of an hour read it once.
_ORG_LOCK = threading.Lock()
_CONTACTS: OrderedDict[tuple[str, int, datetime], tuple[datetime, pd.DataFrame]] = OrderedDict()
_CONTACTS_SIZE = 4


@dataclass
class RiskContext:
    """The open deals at T and everything known about them at T (see `load`)."""

    as_of: datetime
    stages: StageConfig
    signals: TextSignals
    competitors: tuple[str, ...]  # configured + discovered competitor names
    deals: pd.DataFrame  # open deals at T, one row each, sorted by OpportunityId
    history: pd.DataFrame  # their OpportunityHistory rows known at T, oldest first
    activities: pd.DataFrame  # see context_activities
    recipients: pd.DataFrame  # outbound email x buyer contact: Id, OpportunityId, ContactId
    roles: pd.DataFrame  # OpportunityContactRole rows known at T
    contacts: pd.DataFrame  # canonical contacts known at T, indexed by Id
    stage_days: pd.DataFrame  # org-wide completed-spell durations per stage
    dm_roles: tuple[str, ...] = DM_ROLES  # roles that can sign or release money
    memo: dict[str, Any] = field(default_factory=dict)  # results detectors share

    def cached(self, key: str, compute: Callable[[], R]) -> R:
        """Compute once per context (e.g. ghosting, which stalled also reads)."""
        if key not in self.memo:
            self.memo[key] = compute()
        return cast(R, self.memo[key])

    @classmethod
    def load(
        cls,
        store: Store,
        as_of: datetime,
        opportunity_ids: Iterable[str] | None = None,
        signals: TextSignals | None = None,
    ) -> RiskContext:
        ids = None if opportunity_ids is None else sorted(set(opportunity_ids))
        full = store.as_of(as_of)
        scoped = store.as_of(as_of, ids)
        deals = _deals(scoped, store.stages)
        keep = set(deals["OpportunityId"])
        signals = signals or TextSignals()
        if ids is None:  # the whole pipeline: org-level context exactly at T
            history = full.history()
            stage_days = stage_durations(history, store.stages, full.as_of)
            discovered = None
        else:  # a few deals: org-level context as of the hour, cached (see org_level)
            history = scoped.history()
            with _ORG_LOCK:
                org = org_level(store, full.as_of, signals)
            stage_days, discovered = org.stage_days, org.competitors
        history = history[history["OpportunityId"].isin(keep)].reset_index(drop=True)
        contacts = full.contacts() if ids is None else _org_contacts(store, full)
        activities, recipients, names = load_activities(
            store, scoped, full, contacts, signals, keep, discovered
        )
        roles = scoped.contact_roles()
        roles = roles[roles["OpportunityId"].isin(keep)]
        roles = roles[["Id", "OpportunityId", "ContactId", "Role", "IsPrimary", "CreatedDate"]]
        return cls(
            as_of=full.as_of,
            stages=store.stages,
            signals=signals,
            competitors=names,
            deals=deals,
            history=history,
            activities=activities,
            recipients=recipients,
            roles=roles.sort_values(["OpportunityId", "CreatedDate", "Id"]).reset_index(drop=True),
            contacts=contacts[["Id", "FirstName", "LastName", "Email", "Title"]].set_index("Id"),
            stage_days=stage_days,
        )

    @property
    def now(self) -> pd.Timestamp:
        return pd.Timestamp(self.as_of)

    def contact_name(self, contact_id: object) -> str:
        if not isinstance(contact_id, str) or contact_id not in self.contacts.index:
            return str(contact_id)
        row = self.contacts.loc[contact_id]
        parts = [p for p in (row["FirstName"], row["LastName"]) if isinstance(p, str) and p]
        return " ".join(parts) or contact_id


def _org_contacts(store: Store, full: Snapshot) -> pd.DataFrame:
    """The org's contacts as of T1 <= T (see the module docstring); shared, read-only."""
    t = full.as_of
    hour = t.replace(minute=0, second=0, microsecond=0)
    key = (store.engine.url.render_as_string(hide_password=True), data_version(store), hour)
    with _ORG_LOCK:
        hit = _CONTACTS.get(key)
        if hit is not None and hit[0] <= t:
            _CONTACTS.move_to_end(key)
            return hit[1]
        contacts = full.contacts()
        if hit is None:  # an entry for a later instant of the hour stays (it serves more)
            _CONTACTS[key] = (t, contacts)
            while len(_CONTACTS) > _CONTACTS_SIZE:
                _CONTACTS.popitem(last=False)
        return contacts


def clear_org_cache() -> None:
    """Forget the shared org-wide reads (tests)."""
    with _ORG_LOCK:
        _CONTACTS.clear()


def _deals(snap: Snapshot, stages: StageConfig) -> pd.DataFrame:
    opps = snap.open_opportunities()
    by_name = {s.name: s for s in stages.stages}
    cols = ["Id", "Name", "AccountId", "OwnerId", "StageName", "Amount", "CloseDate"]
    cols += ["Probability", "ForecastCategoryName", "CreatedDate", "StageEnteredAt", "PitSource"]
    deals = opps[cols].rename(columns={"Id": "OpportunityId"}).copy()
    # "unverified": no history and changed after T, so the stage, amount and close date at
    # T are unknown. Such deals are still listed but history-based checks skip them.
    deals["StateKnown"] = deals.pop("PitSource") != "unverified"
    deals["StageIndex"] = deals["StageName"].map(stages.index).astype(int)
    stage_prob = deals["StageName"].map(lambda s: by_name[s].probability).astype(float)
    deals["IsLate"] = stage_prob >= LATE_STAGE_PROBABILITY
    return deals.sort_values("OpportunityId").reset_index(drop=True)
