"""What an import's writes affect: the deals to rescore, and which materialised features
(`deal_features`) can no longer be trusted.

A deal's features (`ml.features`) read its own rows (opportunity, history, contact roles,
activities), its contacts (email -> contact mapping, canonical contacts) and org-wide
statistics: closes per owner and per account (owner_win_rate, account_health_score),
completed stage spells per stage (stage_velocity) and everyone's names (masked in texts).
The point-in-time rule makes most changes forward-only: a row known from instant k can only
change features as of t >= k. So, from the change log:

- `deals`: the opportunities whose own or linked rows were written (old and new links),
  the deals of written accounts, and the deals whose contacts were written (roles, WhoId,
  email addresses, old and new; every contact sharing the address, for deduplication).
  They are rescored, and every stored feature row of theirs is dropped.
- `since`: the earliest instant a newly known history row, new opportunity or new contact
  counts from; every feature row as of >= since is dropped (org statistics may differ).
- `owners` / `accounts`: changes that rewrite the past (a closed deal deleted, moved to
  another owner or account, or restated without history): every feature row of the deals
  of those owners and accounts is dropped. (Stage spells come from history rows, which a
  deal's deletion does not flag, so they are forward-only: `since` covers them.)
- `everything`: renamed people, new users (user names are not versioned) or an overflowing
  log: every stored feature row is dropped.
- `people`: users changed (e.g. ManagerId): roll-ups need recomputing even if no deal did.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, or_, select

from dealcast.crm.changes import ChangeLog
from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.schema import CRM_TABLES, deal_features

# object -> the column linking its rows to an opportunity
OPPORTUNITY_LINKS = {
    "Opportunity": "Id",
    "OpportunityHistory": "OpportunityId",
    "OpportunityContactRole": "OpportunityId",
    "Task": "WhatId",
    "Event": "WhatId",
    "EmailMessage": "RelatedToId",
}
NAMES = {"Contact": ("FirstName", "LastName"), "User": ("Name",)}


@dataclass
class Affected:
    deals: set[str] = field(default_factory=set)
    since: datetime | None = None
    owners: set[str] = field(default_factory=set)
    accounts: set[str] = field(default_factory=set)
    everything: bool = False
    people: bool = False


def _opp(value: Any) -> bool:
    return isinstance(value, str) and value.startswith("006")


def affected(conn: Connection, log: ChangeLog) -> Affected:
    if log.overflow:
        return Affected(everything=True, people=True)
    out = Affected()
    out.deals |= log.ids("Opportunity")
    for obj, column in OPPORTUNITY_LINKS.items():
        if obj != "Opportunity":
            out.deals |= {v for v in log.values(obj, column) if _opp(v)}
    out.deals |= _deals_where(conn, "AccountId", log.ids("Account"))
    _contacts(conn, log, out)
    _people(log, out)
    _org_statistics(conn, log, out)
    return out


def _earliest(out: Affected, when: Any) -> None:
    if isinstance(when, datetime) and (out.since is None or when < out.since):
        out.since = when


def _people(log: ChangeLog, out: Affected) -> None:
    out.people = bool(log.of("User"))
    for obj, columns in NAMES.items():
        for rc in log.of(obj):
            if obj == "User" and rc.old is None:
                out.everything = True  # users are read unversioned: new names mask the past
            elif rc.old is None:
                _earliest(out, rc.new.get("CreatedDate"))
            elif any(rc.old.get(c) != rc.new.get(c) for c in columns):
                out.everything = True


def _contacts(conn: Connection, log: ChangeLog, out: Affected) -> None:
    """Deals that reach a written contact: roles, activities' WhoId, emails by address."""
    changes = log.of("Contact")
    if not changes:
        return
    for rc in changes:
        if rc.old is None:
            _earliest(out, rc.new.get("CreatedDate"))
    emails = {str(e).strip().lower() for e in log.values("Contact", "Email") if str(e).strip()}
    contact = CRM_TABLES["Contact"]
    ids = set(log.ids("Contact")) | _select(
        conn, contact.c.Id, contact.c.EmailNormalized, sorted(emails)
    )
    links = (
        ("OpportunityContactRole", "ContactId", "OpportunityId"),
        ("Task", "WhoId", "WhatId"),
        ("Event", "WhoId", "WhatId"),
    )
    for obj, by, link in links:
        table = CRM_TABLES[obj]
        out.deals |= {v for v in _select(conn, table.c[link], table.c[by], sorted(ids)) if _opp(v)}
    # emails map to contacts by address (sender, or first recipient): one scan per 200
    mail, wanted = CRM_TABLES["EmailMessage"], sorted(emails)
    for i in range(0, len(wanted), 200):
        chunk = wanted[i : i + 200]
        sent_to = [func.lower(mail.c.ToAddress).like(f"%{a}%") for a in chunk]
        query = select(mail.c.RelatedToId).where(
            or_(func.lower(func.trim(mail.c.FromAddress)).in_(chunk), *sent_to)
        )
        linked: list[Any] = list(conn.execute(query).scalars())
        out.deals |= {v for v in linked if _opp(v)}


def _org_statistics(conn: Connection, log: ChangeLog, out: Affected) -> None:
    """Closes per owner/account and stage spells: forward from new history rows and new
    deals; the whole past for deleted deals and for closed deals changing hands."""
    for rc in log.of("OpportunityHistory"):
        _earliest(out, rc.new.get("CreatedDate"))
        if rc.old is not None:
            _earliest(out, rc.old.get("CreatedDate"))
    for rc in log.of("Opportunity"):
        if rc.old is None:
            _earliest(out, rc.new.get("CreatedDate"))
            continue
        was_closed, is_closed = bool(rc.old.get("IsClosed")), bool(rc.new.get("IsClosed"))
        deleted = bool(rc.new.get("IsDeleted")) and not rc.old.get("IsDeleted")
        moved = any(rc.old.get(c) != rc.new.get(c) for c in ("OwnerId", "AccountId"))
        restated = any(rc.old.get(c) != rc.new.get(c) for c in ("StageName", "IsClosed"))
        no_history = restated and not _has_history(conn, rc.id)  # unversioned state
        if (was_closed or is_closed) and (deleted or moved or no_history):
            out.owners |= {v for v in (rc.old.get("OwnerId"), rc.new.get("OwnerId")) if v}
            out.accounts |= {v for v in (rc.old.get("AccountId"), rc.new.get("AccountId")) if v}


def _has_history(conn: Connection, opp_id: str) -> bool:
    hist = CRM_TABLES["OpportunityHistory"]
    query = select(hist.c.Id).where(hist.c.OpportunityId == opp_id).limit(1)
    return conn.execute(query).first() is not None


def _select(conn: Connection, wanted: Any, by: Any, keys: list[str]) -> set[Any]:
    out: set[Any] = set()
    for i in range(0, len(keys), IN_CHUNK):
        out.update(conn.execute(select(wanted).where(by.in_(keys[i : i + IN_CHUNK]))).scalars())
    return out


def _deals_where(conn: Connection, column: str, keys: Iterable[str]) -> set[str]:
    opp = CRM_TABLES["Opportunity"]
    return {str(v) for v in _select(conn, opp.c.Id, opp.c[column], sorted(keys))}


def invalidate(conn: Connection, hit: Affected) -> None:
    """Drop the stored feature rows `hit` says may be wrong (inside the import)."""
    c = deal_features.c
    if hit.everything:
        conn.execute(deal_features.delete())
        return
    deals = set(hit.deals)
    deals |= _deals_where(conn, "OwnerId", hit.owners) | _deals_where(
        conn, "AccountId", hit.accounts
    )
    wanted = sorted(deals)
    for i in range(0, len(wanted), IN_CHUNK):
        conn.execute(deal_features.delete().where(c.opportunity_id.in_(wanted[i : i + IN_CHUNK])))
    if hit.since is not None:
        conn.execute(deal_features.delete().where(c.as_of >= hit.since))
