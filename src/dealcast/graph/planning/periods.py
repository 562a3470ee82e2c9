"""Period phrases -> forecast period labels, relative to the as-of time.

"Q3" / "Q3 2026" / "2026-Q3" / "FY2026 Q3", "this/next/last quarter|month|week",
"July" / "July 2026" / "2026-07", "2026-W27". A bare quarter or month name means the next
one not yet over (in Q4, "Q1" is next year's Q1). Fiscal quarters follow
`fiscal_start_month` (see `dealcast.sim.periods`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from dealcast.sim.periods import Period, parse_period, periods_from

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MONTH_ABBR = {m[:3]: i + 1 for i, m in enumerate(MONTHS)}
_REL = re.compile(r"\b(this|current|next|last|previous|prior)\s+(quarter|month|week)\b")


@dataclass(frozen=True)
class PeriodRef:
    kind: str
    label: str
    start: date
    end: date
    phrase: str  # what the user wrote

    @classmethod
    def of(cls, p: Period, phrase: str) -> PeriodRef:
        return cls(p.kind, p.label, p.start, p.end, phrase)


def current(as_of: datetime, kind: str, fiscal_start_month: int = 1, k: int = 0) -> Period:
    """The period of `kind` containing T, or k periods later (k >= 0) / earlier (k < 0)."""
    if k >= 0:
        return periods_from(as_of, kind, k + 1, fiscal_start_month=fiscal_start_month)[k]
    day = as_of.date()
    for _ in range(-k):
        day = periods_from(day, kind, 1, fiscal_start_month=fiscal_start_month)[0].start
        day -= timedelta(days=1)
    return periods_from(day, kind, 1, fiscal_start_month=fiscal_start_month)[0]


def _quarter(as_of: datetime, n: int, year: int | None, fiscal: int) -> Period:
    if year is not None:
        return parse_period(f"{year}-Q{n}", fiscal_start_month=fiscal)
    for k in range(0, 5):
        p = current(as_of, "quarter", fiscal, k)
        if p.label.endswith(f"Q{n}"):
            return p
    raise AssertionError("unreachable: four quarters cover every quarter number")


def _month(as_of: datetime, month: int, year: int | None) -> Period:
    if year is None:
        year = as_of.year if month >= as_of.month else as_of.year + 1
    return parse_period(f"{year}-{month:02d}")


def find_period(text: str, as_of: datetime, fiscal_start_month: int = 1) -> PeriodRef | None:
    """The first period `text` names, or None."""
    t = text.lower()
    fiscal = fiscal_start_month
    m = re.search(r"\b(20\d\d)-q([1-4])\b", t)
    if m:
        return PeriodRef.of(parse_period(m.group(0), fiscal_start_month=fiscal), m.group(0))
    m = re.search(r"\b(20\d\d)-w(\d{1,2})\b", t)
    if m:
        label = f"{m.group(1)}-W{int(m.group(2)):02d}"
        return PeriodRef.of(parse_period(label), m.group(0))
    m = re.search(r"\b(20\d\d)-(0[1-9]|1[0-2])\b(?!-\d)", t)
    if m:
        return PeriodRef.of(parse_period(m.group(0)), m.group(0))
    m = re.search(
        r"\bfy\s?'?(\d{2}|\d{4})\s*q([1-4])\b|\bq([1-4])\s*(?:of\s+)?(?:fy)?\s?'?(20\d\d|\d{2})\b",
        t,
    )
    if m:
        year_text = m.group(1) or m.group(4)
        n = int(m.group(2) or m.group(3))
        year = int(year_text) if len(year_text) == 4 else 2000 + int(year_text)
        return PeriodRef.of(_quarter(as_of, n, year, fiscal), m.group(0))
    m = re.search(r"\bq([1-4])\b", t)
    if m:
        return PeriodRef.of(_quarter(as_of, int(m.group(1)), None, fiscal), m.group(0))
    m = _REL.search(t)
    if m:
        k = {"this": 0, "current": 0, "next": 1}.get(m.group(1), -1)
        return PeriodRef.of(current(as_of, m.group(2), fiscal, k), m.group(0))
    m = re.search(
        r"\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?(?:\s+(20\d\d))?\b", t
    )
    if m and (m.group(0).startswith(MONTHS[_MONTH_ABBR[m.group(1)] - 1]) or m.group(2)):
        month_year = int(m.group(2)) if m.group(2) else None
        return PeriodRef.of(_month(as_of, _MONTH_ABBR[m.group(1)], month_year), m.group(0))
    if re.search(r"\b(quarter|qtd|eoq)\b", t):
        return PeriodRef.of(current(as_of, "quarter", fiscal), "this quarter")
    if re.search(r"\bmonth\b", t):
        return PeriodRef.of(current(as_of, "month", fiscal), "this month")
    if re.search(r"\bweek\b", t) and not re.search(r"\b(last|past|since)\b", t):
        return PeriodRef.of(current(as_of, "week", fiscal), "this week")
    return None


def find_since(text: str, as_of: datetime) -> tuple[datetime, str] | None:
    """The start of a "what changed" window: "since last week", "since 2026-06-01",
    "in the last 10 days", "since yesterday", "since last month"."""
    t = text.lower()
    m = re.search(r"\bsince\s+(20\d\d-\d{2}-\d{2})\b", t)
    if m:
        return datetime.fromisoformat(m.group(1)), m.group(0)
    m = re.search(r"\b(?:last|past)\s+(\d+)\s+(day|week|month)s?\b", t)
    if m:
        days = int(m.group(1)) * {"day": 1, "week": 7, "month": 30}[m.group(2)]
        return as_of - timedelta(days=days), m.group(0)
    for phrase, days in (
        ("yesterday", 1),
        ("last week", 7),
        ("a week ago", 7),
        ("last month", 30),
        ("a month ago", 30),
        ("last quarter", 91),
    ):
        if phrase in t:
            return as_of - timedelta(days=days), phrase
    return None
