"""A search filter in both forms: a Chroma `where` clause (dense side) and a boolean mask over
the in-memory metadata columns (lexical side). Both must say the same thing: a passage a
filter excludes may not come back from either branch.

`until` cuts on `known_ts` (when the activity was known, see `documents`), `since` on `ts`
(when it happened).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from dealcast.crm.pit import as_of_instant

if TYPE_CHECKING:
    from dealcast.rag.retriever import SearchFilter

_LISTS = (
    ("deal_ids", "deal_id"),
    ("account_ids", "account_id"),
    ("owner_ids", "owner_id"),
    ("kinds", "kind"),
)
COLUMNS = ("deal_id", "account_id", "owner_id", "kind", "direction", "ts", "known_ts")
_EPOCH = datetime(1970, 1, 1)


def epoch(value: datetime) -> int:
    """Naive UTC (or aware) datetime -> whole seconds since 1970 (an `until` of 12:00:00.5
    keeps what happened at 12:00:00)."""
    return int((as_of_instant(value) - _EPOCH).total_seconds())


def matches_nothing(flt: SearchFilter) -> bool:
    return any(
        getattr(flt, attr) is not None and not list(getattr(flt, attr)) for attr, _ in _LISTS
    )


def where_clause(flt: SearchFilter) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = []
    for attr, key in _LISTS:
        values = getattr(flt, attr)
        if values is not None:
            parts.append({key: {"$in": [str(v) for v in values]}})
    if flt.direction is not None:
        parts.append({"direction": {"$eq": flt.direction}})
    if flt.since is not None:
        parts.append({"ts": {"$gte": epoch(flt.since)}})
    if flt.until is not None:
        parts.append({"known_ts": {"$lte": epoch(flt.until)}})
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def columns_of(metadatas: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """Metadata as numpy columns (missing -> None, or 0 for the timestamps)."""
    out: dict[str, np.ndarray] = {}
    for col in COLUMNS:
        if col.endswith("ts"):
            out[col] = np.array([int(m.get(col, 0)) for m in metadatas], dtype=np.int64)
        else:
            out[col] = np.array([m.get(col) for m in metadatas], dtype=object)
    return out


def mask(flt: SearchFilter, columns: Mapping[str, np.ndarray], size: int) -> np.ndarray | None:
    """Rows the filter allows (None = every row)."""
    keep = np.ones(size, dtype=bool)
    touched = False
    for attr, key in _LISTS:
        values = getattr(flt, attr)
        if values is not None:
            keep &= np.isin(columns[key], [str(v) for v in values])
            touched = True
    if flt.direction is not None:
        keep &= columns["direction"] == flt.direction
        touched = True
    if flt.since is not None:
        keep &= columns["ts"] >= epoch(flt.since)
        touched = True
    if flt.until is not None:
        keep &= columns["known_ts"] <= epoch(flt.until)
        touched = True
    return keep if touched else None
