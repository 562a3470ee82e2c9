"""A sync's own writes next to the import's: deletions Salesforce reports, the deals the
sync changed, and the per-object watermarks (committed in the import's transaction)."""

from __future__ import annotations

import csv
from datetime import UTC, datetime

from sqlalchemy import Connection, select

from dealcast.crm.dedup import assign_canonical
from dealcast.crm.records import SfRecord
from dealcast.crm.salesforce_sync_report import ObjectSync
from dealcast.crm.schema import CRM_TABLES, salesforce_sync_state
from dealcast.crm.upsert import row_values

OPPORTUNITY_LINKS = {
    "Opportunity": "Id",
    "OpportunityHistory": "OpportunityId",
    "OpportunityContactRole": "OpportunityId",
    "Task": "WhatId",
    "Event": "WhatId",
    "EmailMessage": "RelatedToId",
}


def changed_opportunities(conn: Connection, sync: ObjectSync, import_id: int) -> set[str]:
    """The opportunities whose own row, or a linked row, this import actually wrote
    (inserted, updated or marked deleted). Rows re-read unchanged (the overlap window)
    keep an older import id, so they change nothing."""
    column = OPPORTUNITY_LINKS.get(sync.object)
    if column is None or sync.path is None:
        return set()
    with sync.path.open(newline="", encoding="utf-8") as handle:
        ids = {row["Id"] for row in csv.DictReader(handle) if row.get("Id")}
    ids.update(sync.deleted_ids)
    table = CRM_TABLES[sync.object]
    wanted = sorted(ids)
    out: set[str] = set()
    for i in range(0, len(wanted), 500):
        query = select(table.c[column]).where(
            table.c.Id.in_(wanted[i : i + 500]), table.c._import_id == import_id
        )
        links: list[str | None] = list(conn.execute(query).scalars())
        out.update(v for v in links if v and v.startswith("006"))
    return out


def mark_deleted(conn: Connection, record: type[SfRecord], ids: list[str], import_id: int) -> int:
    """Records Salesforce reports deleted: kept, flagged IsDeleted (as an export has them)."""
    if not ids:
        return 0
    table = CRM_TABLES[record.OBJECT]
    fields = record.field_names()
    rows = conn.execute(
        select(table).where(table.c.Id.in_(ids), table.c.IsDeleted.is_(False))
    ).mappings()
    updates = []
    for stored in rows:
        values = {f: stored[f] for f in fields if stored[f] is not None}
        values["IsDeleted"] = True
        rec = record.model_validate(values)
        new, digest = row_values(rec)
        new.update(_row_hash=digest, _import_id=import_id)
        updates.append(new)
    if record.OBJECT == "Contact":
        assign_canonical(conn, updates)
    for row in updates:
        conn.execute(table.update().where(table.c.Id == row["Id"]).values(**row))
    return len(updates)


def save_state(conn: Connection, sync: ObjectSync, import_id: int, as_of: datetime) -> None:
    assert sync.watermark is not None
    values = {
        "watermark": sync.watermark.astimezone(UTC).replace(tzinfo=None),
        "synced_at": datetime.now(UTC).replace(tzinfo=None),
        "import_id": import_id,
        "mode": sync.mode,
        "fields": sync.fields if not sync.missing else last_good(conn, sync),
    }
    exists = conn.execute(
        select(salesforce_sync_state.c.object).where(salesforce_sync_state.c.object == sync.object)
    ).first()
    if exists:
        conn.execute(
            salesforce_sync_state.update()
            .where(salesforce_sync_state.c.object == sync.object)
            .values(**values)
        )
    else:
        conn.execute(salesforce_sync_state.insert().values(object=sync.object, **values))


def last_good(conn: Connection, sync: ObjectSync) -> dict[str, str]:
    row = conn.execute(
        select(salesforce_sync_state.c.fields).where(salesforce_sync_state.c.object == sync.object)
    ).first()
    return dict(row[0]) if row else sync.fields
