"""Data-quality report: completeness, validity, referential integrity, freshness (0-100).

- completeness: share of filled values in the fields forecasting leans on, plus whether the
  optional objects (contacts, roles, activities, emails) are present at all;
- validity: share of rows read by the import that were accepted;
- referential integrity: share of optional references that resolve, and of opportunities
  that have stage history (without it the point-in-time view cannot be exact);
- freshness: 100 when the newest opportunity change is at most a day older than the as-of
  time, falling linearly to 0 at 30 days.
The score weighs them 30/30/20/20; below 90 the data is flagged for review.
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


def _share(conn: Connection, query_total: Any, query_ok: Any) -> float | None:
    total: int = conn.execute(query_total).scalar_one()
    return None if total == 0 else 100.0 * conn.execute(query_ok).scalar_one() / total


def _completeness(conn: Connection, details: dict[str, float]) -> float:
    scores = []
    for obj, fields in COMPLETENESS_FIELDS.items():
        table = CRM_TABLES[obj]
        live = table.c.IsDeleted.is_(False)
        for name in fields:
            total = select(func.count()).select_from(table).where(live)
            share = _share(conn, total, total.where(table.c[name].is_not(None)))
            if share is not None:
                details[f"completeness.{obj}.{name}"] = round(share, 2)
                scores.append(share)
    for obj in OPTIONAL_OBJECTS:
        present = conn.execute(select(func.count()).select_from(CRM_TABLES[obj])).scalar_one() > 0
        details[f"present.{obj}"] = 100.0 if present else 0.0
        scores.append(details[f"present.{obj}"])
    return sum(scores) / len(scores)


def _integrity(conn: Connection, details: dict[str, float]) -> float:
    scores = []
    for obj, name, targets in OPTIONAL_REFERENCES:
        table, column = CRM_TABLES[obj], CRM_TABLES[obj].c[name]
        total, ok = 0, 0
        for target in targets:
            target_ids = select(CRM_TABLES[target].c.Id)
            base = (
                select(func.count())
                .select_from(table)
                .where(and_(table.c.IsDeleted.is_(False), column.like(KEY_PREFIX[target] + "%")))
            )
            total += conn.execute(base).scalar_one()
            ok += conn.execute(base.where(column.in_(target_ids))).scalar_one()
        if total:
            details[f"references.{obj}.{name}"] = round(100.0 * ok / total, 2)
            scores.append(100.0 * ok / total)
    opp, hist = CRM_TABLES["Opportunity"], CRM_TABLES["OpportunityHistory"]
    live_opps = select(func.count()).select_from(opp).where(opp.c.IsDeleted.is_(False))
    share = _share(conn, live_opps, live_opps.where(opp.c.Id.in_(select(hist.c.OpportunityId))))
    if share is not None:
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


def assess(conn: Connection, as_of: datetime, rows_read: int, rows_rejected: int) -> QualityReport:
    details: dict[str, float] = {}
    parts = {
        "completeness": _completeness(conn, details),
        "validity": 100.0 if rows_read == 0 else 100.0 * (rows_read - rows_rejected) / rows_read,
        "referential_integrity": _integrity(conn, details),
        "freshness": _freshness(conn, as_of, details),
    }
    score = sum(WEIGHTS[k] * v for k, v in parts.items())
    rounded = {k: round(v, 2) for k, v in parts.items()}
    return QualityReport(
        score=round(score, 2), flagged=score < FLAG_BELOW, details=details, **rounded
    )
