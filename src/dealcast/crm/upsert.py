"""Upsert by Id with a content hash, so re-importing the same data changes nothing."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select

from dealcast.crm.changes import TRACKED, ChangeLog
from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.records import SfRecord
from dealcast.crm.schema import CRM_TABLES

_OBJECT_OF = {table.name: obj for obj, table in CRM_TABLES.items()}


def row_values(record: SfRecord) -> tuple[dict[str, Any], str]:
    """The record's column values and the hash of its content."""
    values = record.model_dump()
    # repr of parsed values is stable (dates, floats, bools, str) and much cheaper than JSON;
    # field order is fixed by the record class.
    text = repr(tuple(values.values()))
    return values, hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


@dataclass
class WriteCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


class TableWriter:
    """Writes batches of rows into one table inside the caller's transaction; with a
    `log`, every row it writes is logged with its tracked values before and after."""

    def __init__(
        self, conn: Connection, table: Table, import_id: int, log: ChangeLog | None = None
    ) -> None:
        self.conn, self.table, self.import_id, self.log = conn, table, import_id, log
        self.object = _OBJECT_OF.get(table.name, table.name)
        self.tracked = TRACKED.get(self.object, ()) if log is not None else ()
        self.counts = WriteCounts()
        # An empty table needs no lookups: every row is new (duplicates within a file are
        # rejected before they get here).
        self.was_empty = conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
        columns = [c.name for c in table.c if c.name != "Id"]
        self._update = (
            table.update()
            .where(table.c.Id == bindparam("b_Id"))
            .values({c: bindparam(f"b_{c}") for c in columns})
        )

    def existing_hashes(self, ids: list[str]) -> dict[str, str]:
        return {k: v[0] for k, v in self._existing(ids).items()}

    def _existing(self, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """Id -> (stored row hash, stored tracked values) of the rows already stored."""
        if self.was_empty:
            return {}
        found: dict[str, tuple[str, dict[str, Any]]] = {}
        cols = [self.table.c[c] for c in self.tracked]
        for i in range(0, len(ids), IN_CHUNK):
            query = select(self.table.c.Id, self.table.c._row_hash, *cols).where(
                self.table.c.Id.in_(ids[i : i + IN_CHUNK])
            )
            for row in self.conn.execute(query):
                found[row[0]] = (row[1], dict(zip(self.tracked, row[2:], strict=True)))
        return found

    def write(self, rows: list[dict[str, Any]]) -> None:
        """`rows` carry every column including `_row_hash`; `_import_id` is set here."""
        if not rows:
            return
        existing = self._existing([r["Id"] for r in rows])
        inserts, updates = [], []
        for row in rows:
            stored = existing.get(row["Id"])
            if stored is not None and stored[0] == row["_row_hash"]:
                self.counts.unchanged += 1
                continue
            row["_import_id"] = self.import_id
            if self.log is not None:
                self.log.add(self.object, None if stored is None else stored[1], row)
            if stored is None:
                inserts.append(row)
            else:
                updates.append({f"b_{k}": v for k, v in row.items()})
        if inserts:
            self.conn.execute(self.table.insert(), inserts)
        if updates:
            self.conn.execute(self._update, updates)
        self.counts.inserted += len(inserts)
        self.counts.updated += len(updates)
