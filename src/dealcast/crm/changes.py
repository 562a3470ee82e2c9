"""What one import actually wrote, row by row: enough to update stored aggregates (data
quality) and to find what depends on the changed rows (materialised features, rescoring)
without rescanning the store.

Per written row (inserted, updated or marked deleted) the log keeps the few columns those
consumers read (`TRACKED`), before and after the write. A very large import (an initial
load) stops logging past `LIMIT` rows and is marked `overflow`: consumers then fall back
to a full recount or a full invalidation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

LIMIT = 50_000  # rows logged per import; past it everything counts as changed

# Object -> columns whose old and new values are logged: IsDeleted, what data quality
# counts (quality.COMPLETENESS_FIELDS / OPTIONAL_REFERENCES) and what links a row to deals.
TRACKED: dict[str, tuple[str, ...]] = {
    "User": ("IsDeleted", "Email", "Name", "ManagerId"),
    "Account": ("IsDeleted", "Industry"),
    "Contact": (
        "IsDeleted",
        "Email",
        "Title",
        "AccountId",
        "FirstName",
        "LastName",
        "CreatedDate",
    ),
    "Opportunity": (
        "IsDeleted",
        "Amount",
        "AccountId",
        "ForecastCategoryName",
        "OwnerId",
        "StageName",
        "IsClosed",
        "CreatedDate",
        "LastModifiedDate",
    ),
    "OpportunityHistory": ("IsDeleted", "OpportunityId", "CreatedDate"),
    "OpportunityContactRole": ("IsDeleted", "OpportunityId", "ContactId"),
    "Task": ("IsDeleted", "WhatId", "WhoId", "ActivityDate"),
    "Event": ("IsDeleted", "WhatId", "WhoId", "StartDateTime"),
    "EmailMessage": ("IsDeleted", "RelatedToId", "MessageDate", "FromAddress", "ToAddress"),
}


@dataclass(frozen=True)
class RowChange:
    id: str
    old: dict[str, Any] | None  # TRACKED values before the write; None: inserted
    new: dict[str, Any]  # TRACKED values after it


@dataclass
class ChangeLog:
    rows: dict[str, list[RowChange]] = field(default_factory=lambda: defaultdict(list))
    overflow: bool = False
    _count: int = 0

    def add(self, obj: str, old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> None:
        if self.overflow:
            return
        if self._count >= LIMIT:
            self.overflow, self.rows = True, defaultdict(list)
            return
        self._count += 1
        cols = TRACKED[obj]
        before = None if old is None else {c: old.get(c) for c in cols}
        self.rows[obj].append(RowChange(str(new["Id"]), before, {c: new.get(c) for c in cols}))

    def of(self, obj: str) -> list[RowChange]:
        return self.rows.get(obj, [])

    def ids(self, obj: str) -> set[str]:
        return {r.id for r in self.of(obj)}

    def inserted(self, obj: str) -> set[str]:
        return {r.id for r in self.of(obj) if r.old is None}

    @property
    def empty(self) -> bool:
        return not self.overflow and not any(self.rows.values())

    def values(self, obj: str, column: str) -> set[Any]:
        """Every old and new value of `column` among the written rows (None left out)."""
        out = {r.new.get(column) for r in self.of(obj)}
        out |= {r.old.get(column) for r in self.of(obj) if r.old is not None}
        out.discard(None)
        return out
