"""Who may see what: callers, deal visibility and the PII policy of each role.

Visibility (which deals a caller may see, by deal owner):
- rep: deals they own;
- manager: their own deals and their team's, where the team is everyone below them in the
  User.ManagerId hierarchy, transitively (cycles in bad CRM data are cut, never looped on);
- finance, admin: every deal.

PII policy by role (`pii_policy_for`): emails, phone numbers, card numbers, SSNs and IBANs
are redacted from chat output for every role, admin included (nobody needs them in a chat
answer, and answers get logged, shared and pasted). Contact names:
- rep, manager: see the names of contacts on deals they can see; every other contact name
  is redacted;
- finance: sees no contact names (forecasting needs amounts, not people);
- admin: sees all contact names.

Ids are compared by their first 15 characters, so 15- and 18-character Salesforce ids of
the same record match (`ids.id_key`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any, TypeVar

import pandas as pd

from dealcast.safety.detectors import NameMatcher
from dealcast.safety.ids import id_key


class Role(StrEnum):
    REP = "rep"
    MANAGER = "manager"
    FINANCE = "finance"
    ADMIN = "admin"


ROLES: tuple[str, ...] = tuple(r.value for r in Role)
SEES_ALL_DEALS: frozenset[Role] = frozenset({Role.FINANCE, Role.ADMIN})


@dataclass(frozen=True)
class Caller:
    """The user asking, as the API key resolved them."""

    user_id: str
    role: Role

    def __init__(self, user_id: str, role: str | Role) -> None:
        if not isinstance(user_id, str) or not user_id.strip():
            raise ValueError("user_id must be a non-empty string")
        value = role.value if isinstance(role, Role) else str(role).strip().lower()
        if value not in ROLES:
            raise ValueError(f"unknown role {role!r}: valid roles are {', '.join(ROLES)}")
        object.__setattr__(self, "user_id", user_id.strip())
        object.__setattr__(self, "role", Role(value))


def _str_or_none(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def manager_tree(users: pd.DataFrame) -> dict[str, list[str]]:
    """manager key -> direct report keys, from a users frame with Id and ManagerId."""
    children: dict[str, list[str]] = {}
    for uid, mid in zip(users["Id"], users["ManagerId"], strict=True):
        u, m = _str_or_none(uid), _str_or_none(mid)
        if u is None or m is None or id_key(m) == id_key(u):
            continue
        children.setdefault(id_key(m), []).append(id_key(u))
    return children


def team_of(users: pd.DataFrame, manager_id: str) -> set[str]:
    """Keys of everyone below `manager_id`, transitively, plus the manager (cycle-safe)."""
    children = manager_tree(users)
    root = id_key(manager_id)
    seen = {root}
    stack = list(children.get(root, ()))
    while stack:
        uid = stack.pop()
        if uid not in seen:
            seen.add(uid)
            stack.extend(children.get(uid, ()))
    return seen


R = TypeVar("R")


@dataclass(frozen=True)
class Visibility:
    """What `caller` may see. Build with `from_users`.

    `owners`: keys of the owners whose deals the caller sees (for finance/admin: every user
    in the users frame; `sees_all` says that owners outside the frame are visible too).
    `deal_owners`: deal key -> owner key, from the deals frame when one is given; a deal id
    missing from it is treated as not visible for reps and managers (fail closed).
    `hidden_deal_names`: names (casefolded, sorted; at least 4 characters) of deals the
    caller cannot see that no visible deal shares, so the guard catches an answer that
    names a hidden deal.
    """

    caller: Caller
    owners: frozenset[str]
    sees_all: bool
    deal_owners: Mapping[str, str] = field(default_factory=dict)
    hidden_deal_names: tuple[str, ...] = ()

    @classmethod
    def from_users(
        cls,
        users: pd.DataFrame,
        caller: Caller,
        deals: pd.DataFrame | Mapping[str, str] | None = None,
    ) -> Visibility:
        """Visibility from a users frame (Id, ManagerId) and, optionally, the deals (a frame
        with Id, OwnerId and optionally Name, or a mapping deal id -> owner id)."""
        missing = {"Id", "ManagerId"} - set(users.columns)
        if missing:
            raise ValueError(f"users frame lacks column(s): {', '.join(sorted(missing))}")
        everyone = frozenset(id_key(str(u)) for u in users["Id"] if _str_or_none(u))
        sees_all = caller.role in SEES_ALL_DEALS
        if sees_all:
            owners = everyone | {id_key(caller.user_id)}
        elif caller.role is Role.MANAGER:
            owners = frozenset(team_of(users, caller.user_id))
        else:
            owners = frozenset({id_key(caller.user_id)})
        deal_owners, names = _deal_table(deals)
        vis = cls(caller=caller, owners=owners, sees_all=sees_all, deal_owners=deal_owners)
        if names and not sees_all:
            visible = {n for d, n in names.items() if vis.can_see_deal(d)}
            hidden = {n for d, n in names.items() if not vis.can_see_deal(d)} - visible
            object.__setattr__(vis, "hidden_deal_names", tuple(sorted(hidden)))
        return vis

    @cached_property
    def hidden_name_matcher(self) -> NameMatcher:
        return NameMatcher(self.hidden_deal_names)

    def visible_owner_ids(self) -> frozenset[str]:
        """Keys (first 15 characters) of the owners whose deals the caller sees."""
        return self.owners

    def can_see(self, owner_id: str | None) -> bool:
        """May the caller see deals owned by `owner_id`? (An unknown owner: only if the
        caller sees all deals.)"""
        if self.sees_all:
            return True
        owner = _str_or_none(owner_id)
        return owner is not None and id_key(owner) in self.owners

    def can_see_deal(self, deal_id: str) -> bool:
        """May the caller see this deal? Unknown deals are visible only to finance/admin."""
        if self.sees_all:
            return True
        owner = self.deal_owners.get(id_key(deal_id))
        return owner is not None and owner in self.owners

    def filter_records(
        self, records: Iterable[Mapping[str, Any]] | pd.DataFrame, owner_key: str = "owner_id"
    ) -> Any:
        """The records the caller may see, by their `owner_key` field. A list of mappings
        gives a list; a DataFrame gives a DataFrame. A record without an owner is kept only
        for callers who see all deals."""
        if isinstance(records, pd.DataFrame):
            if owner_key not in records.columns:
                if self.sees_all:
                    return records
                return records.iloc[0:0]
            mask = [self.can_see(_str_or_none(v)) for v in records[owner_key]]
            return records[mask]
        return [r for r in records if self.can_see(_str_or_none(r.get(owner_key)))]


def _deal_table(
    deals: pd.DataFrame | Mapping[str, str] | None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(deal key -> owner key, deal key -> casefolded deal name)."""
    if deals is None:
        return {}, {}
    if isinstance(deals, pd.DataFrame):
        owner_col = "OwnerId" if "OwnerId" in deals.columns else "owner_id"
        id_col = "Id" if "Id" in deals.columns else "deal_id"
        owners: dict[str, str] = {}
        for d, o in zip(deals[id_col], deals[owner_col], strict=True):
            dk, ok = _str_or_none(d), _str_or_none(o)
            if dk is not None and ok is not None:
                owners[id_key(dk)] = id_key(ok)
        names: dict[str, str] = {}
        name_col = "Name" if "Name" in deals.columns else None
        if name_col is not None:
            for d, n in zip(deals[id_col], deals[name_col], strict=True):
                dk, nk = _str_or_none(d), _str_or_none(n)
                if dk is not None and nk is not None and len(nk) >= 4:
                    names[id_key(dk)] = " ".join(nk.casefold().split())
        return owners, names
    return {id_key(d): id_key(o) for d, o in deals.items() if d and o}, {}


# ---- PII policy ---------------------------------------------------------------------------

DEFAULT_SENSITIVE_KEYS: frozenset[str] = frozenset(
    {
        "email", "emailaddress", "contactemail", "fromaddress", "toaddress", "ccaddress",
        "bccaddress", "phone", "phonenumber", "mobilephone", "mobile", "homephone",
        "otherphone", "assistantphone", "fax", "ssn", "socialsecuritynumber", "cardnumber",
        "creditcard", "creditcardnumber", "iban", "bankaccount", "accountnumber",
    }
)  # fmt: skip


def normalize_key(key: str) -> str:
    """`Contact_Email`, `contactEmail` and `contact-email` all become `contactemail`."""
    return "".join(ch for ch in key.lower() if ch.isalnum())


@dataclass(frozen=True)
class PiiPolicy:
    """What `pii.redact` / `pii.redact_data` remove. `names`: the contact names to redact
    (matched case-insensitively on word boundaries). `sensitive_keys`: structured-data keys
    whose values are replaced whole (compared after `normalize_key`)."""

    emails: bool = True
    phones: bool = True
    cards: bool = True
    ssns: bool = True
    ibans: bool = True
    names: tuple[str, ...] = ()
    sensitive_keys: frozenset[str] = DEFAULT_SENSITIVE_KEYS

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(sorted({n.strip() for n in self.names if n})))
        object.__setattr__(
            self, "sensitive_keys", frozenset(normalize_key(k) for k in self.sensitive_keys)
        )

    @cached_property
    def name_matcher(self) -> NameMatcher:
        """Built once per policy (build the policy once per caller/request, not per string)."""
        return NameMatcher(self.names)


def pii_policy_for(
    caller: Caller,
    contact_names: Iterable[str] = (),
    visible_contact_names: Iterable[str] = (),
) -> PiiPolicy:
    """The default PII policy of the caller's role (see the module docstring).

    `contact_names`: every contact name of the org; `visible_contact_names`: the names of
    contacts on deals the caller can see (`contact_names_split` computes both)."""
    everyone = {n for n in contact_names if n}
    mine = {n for n in visible_contact_names if n}
    if caller.role is Role.ADMIN:
        redacted: set[str] = set()
    elif caller.role is Role.FINANCE:
        redacted = everyone | mine
    else:
        mine_folded = {n.casefold() for n in mine}
        redacted = {n for n in everyone if n.casefold() not in mine_folded}
    return PiiPolicy(names=tuple(redacted))


def contact_name(first: Any, last: Any) -> str | None:
    parts = [p.strip() for p in (first, last) if isinstance(p, str) and p.strip()]
    return " ".join(parts) or None


def contact_names_split(
    visibility: Visibility,
    contacts: pd.DataFrame,
    contact_roles: pd.DataFrame | None = None,
) -> tuple[set[str], set[str]]:
    """(every contact's full name, full names of contacts on deals the caller can see).

    `contacts` has Id and Name, or FirstName/LastName; `contact_roles` has OpportunityId and
    ContactId (OpportunityContactRole). Without contact roles no contact counts as visible.
    Only full names are listed: last names alone ("Price", "Close", "Young") are too often
    ordinary words in a sales answer."""
    name_of: dict[str, str] = {}
    for row in contacts.to_dict("records"):
        cid = _str_or_none(row.get("Id"))
        name = _str_or_none(row.get("Name")) or contact_name(
            row.get("FirstName"), row.get("LastName")
        )
        if cid is not None and name:
            name_of[id_key(cid)] = name
    seen: set[str] = set()
    if contact_roles is not None:
        pairs = zip(contact_roles["OpportunityId"], contact_roles["ContactId"], strict=True)
        for opp, cid in pairs:
            o, c = _str_or_none(opp), _str_or_none(cid)
            if o and c and visibility.can_see_deal(o):
                seen.add(id_key(c))
    visible = {name_of[c] for c in seen if c in name_of}
    return set(name_of.values()), visible
