"""Buyer contacts: executives and staff per account, plus a few duplicate entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from dealcast.crm.demo import names as nm
from dealcast.crm.demo.fmt import DAY
from dealcast.crm.demo.people import Accounts, email_local, phone
from dealcast.crm.demo.rand import Stream

# (executives, staff) ranges per segment: SMB, mid-market, enterprise.
_EXECS = ((1, 1), (1, 2), (2, 3))
_STAFF = ((1, 3), (2, 4), (3, 7))


@dataclass
class Contacts:
    account: list[int] = field(default_factory=list)
    first: list[str] = field(default_factory=list)
    last: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    dup_of: list[int | None] = field(default_factory=list)
    dup: dict[int, int] = field(default_factory=dict)  # original -> duplicate entry
    execs: list[list[int]] = field(default_factory=list)  # per account
    staff: list[list[int]] = field(default_factory=list)  # per account

    def _add(self, account: int, first: str, last: str, email: str, title: str, ts: int) -> int:
        self.account.append(account)
        self.first.append(first)
        self.last.append(last)
        self.emails.append(email)
        self.titles.append(title)
        self.created.append(ts)
        self.dup_of.append(None)
        return len(self.first) - 1

    def name(self, c: int) -> str:
        return f"{self.first[c]} {self.last[c]}"


def _email_variant(s: Stream, email: str) -> str:
    local, domain = email.split("@")
    kind = s.below(4)
    if kind == 0:
        return f"{local.title()}@{domain}"
    if kind == 1:
        return email.upper()
    if kind == 2:
        return f" {email}  "
    return f"{local.capitalize()}@{domain.capitalize()} "


def make_contacts(s: Stream, accounts: Accounts, cutoff: int) -> Contacts:
    out = Contacts()
    for a, seg in enumerate(accounts.segment):
        created = accounts.created[a]
        domain = accounts.domains[a]
        locals_: set[str] = set()
        groups: tuple[list[int], list[int]] = ([], [])
        for is_exec, titles, rng_ in ((0, nm.EXEC_TITLES, _EXECS), (1, nm.STAFF_TITLES, _STAFF)):
            lo, hi = rng_[seg]
            for title in s.sample(titles, s.between(lo, hi)):
                first, last = s.pick(nm.FIRST_NAMES), s.pick(nm.LAST_NAMES)
                local = email_local(s, first, last)
                while local in locals_:
                    local = f"{local}{s.between(2, 9)}"
                locals_.add(local)
                ts = created + int(s.uniform(0.02, 0.9) * DAY)
                c = out._add(a, first, last, f"{local}@{domain}", title, ts)
                out.phones.append(phone(s))
                groups[is_exec].append(c)
        out.execs.append(groups[0])
        out.staff.append(groups[1])
    n = len(out.first)
    n_dup = max(3, round(0.006 * n)) if n >= 20 else 0
    for _ in range(n_dup):
        c = s.below(n)
        later = out.created[c] + int(s.uniform(30, 400) * DAY)
        if c in out.dup or later >= cutoff - DAY:
            continue
        d = out._add(
            out.account[c],
            out.first[c],
            out.last[c],
            _email_variant(s, out.emails[c]),
            out.titles[c],
            later,
        )
        out.phones.append(out.phones[c] if s.chance(0.5) else phone(s))
        out.dup_of[d] = c
        out.dup[c] = d
    return out
