"""Data-quality report: completeness, validity, referential integrity, freshness (0-100).

- completeness: share of filled values in the fields forecasting leans on, plus whether the
  optional objects (contacts, roles, activities, emails) are present at all;
- validity: share of rows read by the import that were accepted;
- referential integrity: share of optional references that resolve, and of opportunities
  that have stage history (without it the point-in-time view cannot be exact);
- freshness: 100 when the newest opportunity change is at most a day older than the as-of
  time, falling linearly to 0 at 30 days.
The score weighs them 30/30/20/20; below 90 the data is flagged for review.

Everything but validity and freshness is a ratio of row counts (`Counts`). A full count
(`count_all`) scans the store; an import instead updates the previous import's stored
counts with the rows it wrote (`quality_delta.updated_counts`), so the score costs what the
import wrote, not the size of the store, and equals a full recount (tested).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, select

from dealcast.crm.records import KEY_PREFIX
from dealcast.crm.schema import CRM_TABLES

FLAG_BELOW = 90.0
WEIGHTS = {"completeness": 0.3, "validity": 0.3, "referential_integrity": 0.2, "freshness": 0.2}
COMPLETENESS_FIELDS = {
    "Opportunity": ("Amount", "AccountId", "ForecastCategoryName"),
    "Contact": ("Email", "Title", "AccountId"),
    "Account": ("Industry",),
    "User": ("Email",),
    "Task": ("WhatId", "ActivityDate"),
    "Event": ("WhatId", "StartDateTime"),
    "EmailMessage": ("RelatedToId", "MessageDate"),
}
OPTIONAL_OBJECTS = ("Contact", "OpportunityContactRole", "Task", "Event", "EmailMessage")
OPTIONAL_REFERENCES = (
    ("User", "ManagerId", ("User",)),
    ("Contact", "AccountId", ("Account",)),
    ("Task", "WhatId", ("Opportunity", "Account")),
    ("Task", "WhoId", ("Contact",)),
    ("Event", "WhatId", ("Opportunity", "Account")),
    ("Event", "WhoId", ("Contact",)),
    ("EmailMessage", "RelatedToId", ("Opportunity", "Account")),
)


@dataclass(frozen=True)
class QualityReport:
    score: float
    completeness: float
    validity: float
    referential_integrity: float
    freshness: float
    flagged: bool
    details: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


Counts = dict[str, int]
# keys: live:<Object> (rows not deleted), filled:<Object>.<field> (live and filled),
# rows:<Object> (all rows), refs:<Object>.<field>><Target> (live references by key prefix),
# resolved:<same> (of those, to a stored row), covered (live opportunities with history)


def _count(conn: Connection, query: Any) -> int:
    return int(conn.execute(query).scalar_one())


def count_all(conn: Connection) -> Counts:
    """Every count the score needs, by scanning the store."""
    counts: Counts = {}
    for obj, fields in COMPLETENESS_FIELDS.items():
        table = CRM_TABLES[obj]
        live = select(func.count()).select_from(table).where(table.c.IsDeleted.is_(False))
        counts[f"live:{obj}"] = _count(conn, live)
        for name in fields:
            counts[f"filled:{obj}.{name}"] = _count(conn, live.where(table.c[name].is_not(None)))
    for obj in CRM_TABLES:
        counts[f"rows:{obj}"] = _count(conn, select(func.count()).select_from(CRM_TABLES[obj]))
    for obj, name, targets in OPTIONAL_REFERENCES:
        table, column = CRM_TABLES[obj], CRM_TABLES[obj].c[name]
        for target in targets:
            base = (
                select(func.count())
                .select_from(table)
                .where(and_(table.c.IsDeleted.is_(False), column.like(KEY_PREFIX[target] + "%")))
            )
            key = f"{obj}.{name}>{target}"
            counts[f"refs:{key}"] = _count(conn, base)
            counts[f"resolved:{key}"] = _count(
                conn, base.where(column.in_(select(CRM_TABLES[target].c.Id)))
            )
    opp, hist = CRM_TABLES["Opportunity"], CRM_TABLES["OpportunityHistory"]
    live_opps = select(func.count()).select_from(opp).where(opp.c.IsDeleted.is_(False))
    counts["covered"] = _count(conn, live_opps.where(opp.c.Id.in_(select(hist.c.OpportunityId))))
    return counts


def _completeness(counts: Counts, details: dict[str, float]) -> float:
    scores = []
    for obj, fields in COMPLETENESS_FIELDS.items():
        total = counts[f"live:{obj}"]
        for name in fields:
            if total:
                share = 100.0 * counts[f"filled:{obj}.{name}"] / total
                details[f"completeness.{obj}.{name}"] = round(share, 2)
                scores.append(share)
    for obj in OPTIONAL_OBJECTS:
        details[f"present.{obj}"] = 100.0 if counts[f"rows:{obj}"] > 0 else 0.0
        scores.append(details[f"present.{obj}"])
    return sum(scores) / len(scores)


def _integrity(counts: Counts, details: dict[str, float]) -> float:
    scores = []
    for obj, name, targets in OPTIONAL_REFERENCES:
        total = sum(counts[f"refs:{obj}.{name}>{t}"] for t in targets)
        ok = sum(counts[f"resolved:{obj}.{name}>{t}"] for t in targets)
        if total:
            details[f"references.{obj}.{name}"] = round(100.0 * ok / total, 2)
            scores.append(100.0 * ok / total)
    if counts["live:Opportunity"]:
        share = 100.0 * counts["covered"] / counts["live:Opportunity"]
        details["history.Opportunity"] = round(share, 2)
        scores.append(share)
    return sum(scores) / len(scores) if scores else 100.0


def _freshness(conn: Connection, as_of: datetime, details: dict[str, float]) -> float:
    opp = CRM_TABLES["Opportunity"]
    newest: Any = conn.execute(
        select(
            func.max(func.coalesce(opp.c.SystemModstamp, opp.c.LastModifiedDate, opp.c.CreatedDate))
        )
    ).scalar_one()
    if newest is None:
        return 0.0
    if isinstance(newest, str):  # SQLite returns aggregate datetimes as text
        newest = datetime.fromisoformat(newest)
    age_days = max((as_of - newest) / timedelta(days=1), 0.0)
    details["freshness.age_days"] = round(age_days, 2)
    return max(0.0, min(100.0, 100.0 * (30.0 - age_days) / 29.0))


def assess(
    conn: Connection,
    as_of: datetime,
    rows_read: int,
    rows_rejected: int,
    counts: Counts | None = None,
) -> QualityReport:
    """The report on `counts` (default: a full count of the store)."""
    counts = count_all(conn) if counts is None else counts
    details: dict[str, float] = {}
    parts = {
        "completeness": _completeness(counts, details),
        "validity": 100.0 if rows_read == 0 else 100.0 * (rows_read - rows_rejected) / rows_read,
        "referential_integrity": _integrity(counts, details),
        "freshness": _freshness(conn, as_of, details),
    }
    score = sum(WEIGHTS[k] * v for k, v in parts.items())
    rounded = {k: round(v, 2) for k, v in parts.items()}
    return QualityReport(
        score=round(score, 2), flagged=score < FLAG_BELOW, details=details, **rounded
    )
