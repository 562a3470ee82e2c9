"""Data-quality counts kept up to date by each import instead of recounted.

Each count (`quality.Counts`) is a sum over rows, so an import changes it only through the
rows it wrote (its `ChangeLog`: tracked values before and after) plus one cross-table
effect: a newly inserted row can resolve references that other, unwritten rows already
made to it (rows are never removed, deletion is a flag, so a reference never stops
resolving). Opportunities' history coverage is recomputed for the opportunities the import
touched. The counts are stored with the import (`import_run.counts["_quality"]`) and
chained by import id: if the previous committed import is not the one they were built on
(or an import logged too much to track), the next import recounts in full.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, select

from dealcast.crm.changes import ChangeLog
from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.quality import COMPLETENESS_FIELDS, OPTIONAL_REFERENCES, Counts
from dealcast.crm.records import KEY_PREFIX
from dealcast.crm.schema import CRM_TABLES, import_run

KEY = "_quality"  # in import_run.counts, next to the per-object reports


def _live(values: dict[str, Any] | None) -> bool:
    return values is not None and not values.get("IsDeleted")


def baseline(conn: Connection, import_id: int) -> tuple[int | None, Counts | None]:
    """The last committed import before `import_id`, and its stored counts if they still
    describe the store (they were built on the import right before it)."""
    runs = conn.execute(
        select(import_run.c.id, import_run.c.counts)
        .where(import_run.c.id < import_id, import_run.c.finished_at.is_not(None))
        .order_by(import_run.c.id.desc())
        .limit(2)
    ).all()
    if not runs:
        return None, None
    last, stored = runs[0][0], runs[0][1]
    before = runs[1][0] if len(runs) > 1 else None
    kept = stored.get(KEY) if isinstance(stored, dict) else None
    if not isinstance(kept, dict) or kept.get("after") != before:
        return last, None  # none, or built on another state (a concurrent import): recount
    counts = kept.get("counts")
    return last, dict(counts) if isinstance(counts, dict) else None


def stored_form(counts: Counts, after: int | None) -> dict[str, Any]:
    """What to store under KEY: the counts and the import they were built on."""
    return {"after": after, "counts": counts}


def updated_counts(conn: Connection, counts: Counts, log: ChangeLog) -> Counts:
    """`counts` after the writes in `log` (which must not have overflowed)."""
    if log.overflow:
        raise ValueError("the change log overflowed: recount with quality.count_all")
    out: Counts = defaultdict(int, counts)
    for obj, changes in log.rows.items():
        fields = COMPLETENESS_FIELDS.get(obj, ())
        for rc in changes:
            out[f"rows:{obj}"] += rc.old is None
            if obj not in COMPLETENESS_FIELDS:
                continue
            new_live, old_live = _live(rc.new), _live(rc.old)
            out[f"live:{obj}"] += new_live - old_live
            for name in fields:
                now = new_live and rc.new.get(name) is not None
                was = old_live and rc.old is not None and rc.old.get(name) is not None
                out[f"filled:{obj}.{name}"] += now - was
    _references(conn, out, log)
    _coverage(conn, out, log)
    return dict(out)


def _references(conn: Connection, out: Counts, log: ChangeLog) -> None:
    for obj, name, targets in OPTIONAL_REFERENCES:
        changes = log.of(obj)
        values = log.values(obj, name)
        for target in targets:
            prefix, fresh, key = KEY_PREFIX[target], log.inserted(target), f"{obj}.{name}>{target}"
            stored = _stored_ids(conn, target, [v for v in values if str(v).startswith(prefix)])

            for rc in changes:
                new_ok = _is_ref(rc.new, name, prefix) and rc.new[name] in stored
                old_ok = (
                    _is_ref(rc.old, name, prefix) and rc.old is not None and rc.old[name] in stored
                )
                old_ok = old_ok and rc.old is not None and rc.old[name] not in fresh
                out[f"refs:{key}"] += _is_ref(rc.new, name, prefix) - _is_ref(rc.old, name, prefix)
                out[f"resolved:{key}"] += new_ok - old_ok
            if fresh:  # unwritten rows whose dangling reference the import just resolved
                out[f"resolved:{key}"] += _referring(conn, obj, name, fresh, log.ids(obj))


def _is_ref(row: dict[str, Any] | None, name: str, prefix: str) -> bool:
    """A live row whose `name` points at the object with this key prefix."""
    value = None if row is None else row.get(name)
    return _live(row) and isinstance(value, str) and value.startswith(prefix)


def _stored_ids(conn: Connection, obj: str, ids: list[str]) -> set[str]:
    table, out = CRM_TABLES[obj], set[str]()
    for i in range(0, len(ids), IN_CHUNK):
        out.update(
            conn.execute(select(table.c.Id).where(table.c.Id.in_(ids[i : i + IN_CHUNK]))).scalars()
        )
    return out


def _referring(conn: Connection, obj: str, name: str, targets: set[str], written: set[str]) -> int:
    table, wanted, n = CRM_TABLES[obj], sorted(targets), 0
    for i in range(0, len(wanted), IN_CHUNK):
        query = select(table.c.Id).where(
            table.c[name].in_(wanted[i : i + IN_CHUNK]), table.c.IsDeleted.is_(False)
        )
        found: list[str] = list(conn.execute(query).scalars())
        n += sum(1 for row_id in found if row_id not in written)
    return n


def _coverage(conn: Connection, out: Counts, log: ChangeLog) -> None:
    """Live opportunities with at least one history row, over the opportunities touched."""
    touched = log.ids("Opportunity") | log.values("OpportunityHistory", "OpportunityId")
    if not touched:
        return
    opp, hist = CRM_TABLES["Opportunity"], CRM_TABLES["OpportunityHistory"]
    wanted = sorted(touched)
    rows_of: dict[str, list[str]] = defaultdict(list)
    deleted_now: dict[str, bool] = {}
    for i in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[i : i + IN_CHUNK]
        for opp_id, row_id in conn.execute(
            select(hist.c.OpportunityId, hist.c.Id).where(hist.c.OpportunityId.in_(chunk))
        ):
            rows_of[str(opp_id)].append(str(row_id))
        for opp_id, deleted in conn.execute(
            select(opp.c.Id, opp.c.IsDeleted).where(opp.c.Id.in_(chunk))
        ):
            deleted_now[str(opp_id)] = bool(deleted)
    old_opp: dict[str, dict[str, Any] | None] = {}
    for rc in log.of("Opportunity"):
        old_opp.setdefault(rc.id, rc.old)  # the first write holds the state before
    written_hist = log.ids("OpportunityHistory")
    moved_from = {
        rc.old.get("OpportunityId") for rc in log.of("OpportunityHistory") if rc.old is not None
    }
    for opp_id in touched:
        live_now = opp_id in deleted_now and not deleted_now[opp_id]
        live_before = _live(old_opp[opp_id]) if opp_id in old_opp else live_now
        covered_now = bool(rows_of.get(opp_id))
        covered_before = opp_id in moved_from or any(
            r not in written_hist for r in rows_of.get(opp_id, [])
        )
        out["covered"] += (live_now and covered_now) - (live_before and covered_before)
