"""Users (the seller's sales team), buyer accounts and buyer contacts.

Team: one VP of Sales; first-line managers with 4-6 account executives each (about 20
reps per scale unit). Most reps were hired before the three-year window; a few joined
during it (team growth) and a few left (IsActive = false) and handed their book to a
replacement hired shortly before they left.

Accounts are created by the deal planner 3-120 days before their first deal (plus 10 %
more that never had one), owned by the rep of their latest deal. Contacts are created with
their account: 1-3 executives (possible Decision Makers and Economic Buyers) and 1-7 staff
(possible champions, evaluators, technical buyers). About 0.6 % of contacts are entered
twice (same person, email differing in case or whitespace, different Id, created later);
deals created after that sometimes reference the duplicate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from dealcast.crm.demo import names as nm
from dealcast.crm.demo.fmt import DAY, NEVER
from dealcast.crm.demo.rand import Stream

_SLUG = re.compile(r"[^a-z0-9]+")
_QUALIFIERS = ("Partners", "Holdings", "Solutions", "Services", "Global", "Labs", "Systems")


def phone(s: Stream) -> str:
    area, line = s.pick(nm.AREA_CODES), f"555-01{s.below(100):02d}"
    style = s.below(4)
    if style == 0:
        return f"+1 ({area}) {line}"
    if style == 1:
        return f"{area}-{line}"
    if style == 2:
        return f"+1 {area} {line.replace('-', ' ')}"
    return f"({area}) {line}"


def email_local(s: Stream, first: str, last: str) -> str:
    f, la = _SLUG.sub("", first.lower()), _SLUG.sub("", last.lower())
    return s.weighted((f"{f}.{la}", f"{f[0]}{la}", f"{f}_{la}", f"{f}"), (0.55, 0.8, 0.9, 1.0))


@dataclass
class Users:
    ids: list[str] = field(default_factory=list)
    first: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    titles: list[str] = field(default_factory=list)
    manager: list[int | None] = field(default_factory=list)
    hire: list[int] = field(default_factory=list)  # epoch seconds
    leave: list[int] = field(default_factory=list)  # epoch seconds or NEVER
    skill: list[float] = field(default_factory=list)  # rep skill, standard normal
    reps: list[int] = field(default_factory=list)
    successor: dict[int, int] = field(default_factory=dict)

    def add(self, s: Stream, title: str, manager: int | None, hire: int, leave: int) -> int:
        taken = set(self.names)
        while True:
            first, last = s.pick(nm.FIRST_NAMES), s.pick(nm.LAST_NAMES)
            if f"{first} {last}" not in taken:
                break
        self.first.append(first)
        self.names.append(f"{first} {last}")
        local = f"{_SLUG.sub('', first.lower())}.{_SLUG.sub('', last.lower())}"
        self.emails.append(f"{local}@{nm.SELLER_DOMAIN}")
        self.phones.append(phone(s))
        self.titles.append(title)
        self.manager.append(manager)
        self.hire.append(hire)
        self.leave.append(leave)
        self.skill.append(s.normal())
        return len(self.names) - 1

    def active_at(self, rep: int, ts: int) -> bool:
        return self.hire[rep] <= ts < self.leave[rep]


def make_users(s: Stream, scale: float, start: int, cutoff: int) -> Users:
    """The sales team; `start` and `cutoff` are epoch seconds bounding the window."""
    users = Users()
    before = start - 400 * DAY
    vp = users.add(s, "VP of Sales", None, before, NEVER)
    n_reps = max(4, round(20 * scale))
    n_leavers = max(1, round(0.1 * n_reps))
    n_growth = round(0.15 * n_reps)
    n_mgr = max(1, round((n_reps + n_leavers) / 5))
    managers = [users.add(s, "Sales Manager", vp, before, NEVER) for _ in range(n_mgr)]
    span = cutoff - start
    k = 0

    def next_manager() -> int:
        nonlocal k
        k += 1
        return managers[(k - 1) % n_mgr]

    for _ in range(n_reps - n_leavers - n_growth):
        users.reps.append(users.add(s, "Account Executive", next_manager(), before, NEVER))
    for _ in range(n_growth):
        hired = start + int(s.uniform(0.1, 0.75) * span)
        users.reps.append(users.add(s, "Account Executive", next_manager(), hired, NEVER))
    for _ in range(n_leavers):
        left = start + int(s.uniform(0.25, 0.9) * span)
        mgr = next_manager()
        leaver = users.add(s, "Account Executive", mgr, before, left)
        successor = users.add(
            s, "Account Executive", mgr, left - int(s.uniform(5, 25) * DAY), NEVER
        )
        users.reps += [leaver, successor]
        users.successor[leaver] = successor
    return users


@dataclass
class Accounts:
    names: list[str] = field(default_factory=list)
    domains: list[str] = field(default_factory=list)
    industry: list[str | None] = field(default_factory=list)
    employees: list[int | None] = field(default_factory=list)
    revenue: list[int | None] = field(default_factory=list)
    segment: list[int] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    owner: list[int] = field(default_factory=list)
    _taken: set[str] = field(default_factory=set)

    def add(self, s: Stream, segment: int, created: int, owner: int) -> int:
        industry, word = s.pick(nm.INDUSTRIES)
        for attempt in range(12):
            head, tail = s.pick(nm.COMPANY_HEADS), s.pick(nm.COMPANY_TAILS)
            if head.lower().endswith(tail) or tail.startswith(head[-1].lower()):
                tail = "side" if tail != "side" else "mark"
            base = f"{head}{tail} {word}" if attempt % 2 == 0 else f"{head} {tail.title()} {word}"
            if attempt >= 4:
                base = f"{base} {s.pick(_QUALIFIERS)}"
            if attempt == 11:
                base = f"{base} {len(self.names)}"
            if base not in self._taken:
                break
        self._taken.add(base)
        slug = _SLUG.sub("", base.lower())
        domain = f"{slug}.example.com"
        while domain in self._taken:
            domain = f"{slug}{s.below(100)}.example.com"
        self._taken.add(domain)
        suffix = s.pick(nm.COMPANY_SUFFIXES)
        self.names.append(f"{base} {suffix}".strip())
        self.domains.append(domain)
        median = (90, 800, 9000)[segment]
        employees = max(5, round(s.lognormal(median, 0.5)))
        self.industry.append(None if s.chance(0.04) else industry)
        self.employees.append(None if s.chance(0.06) else employees)
        revenue = round(employees * s.uniform(120_000, 450_000), -5)
        self.revenue.append(None if s.chance(0.08) else int(revenue))
        self.segment.append(segment)
        self.created.append(created)
        self.owner.append(owner)
        return len(self.names) - 1
