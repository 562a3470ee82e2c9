"""A sync's own writes next to the import's: deletions Salesforce reports and the
per-object watermarks (committed in the import's transaction). The deals a sync changed
come from the import's change log (`crm.affected`)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select

from dealcast.crm.changes import ChangeLog
from dealcast.crm.dedup import assign_canonical
from dealcast.crm.records import SfRecord
from dealcast.crm.salesforce_sync_report import ObjectSync
from dealcast.crm.schema import CRM_TABLES, crm_custom_value, salesforce_sync_state
from dealcast.crm.upsert import row_values


def mark_deleted(
    conn: Connection,
    record: type[SfRecord],
    ids: list[str],
    import_id: int,
    log: ChangeLog | None = None,
) -> int:
    """Records Salesforce reports deleted: kept, flagged IsDeleted (as an export has them);
    each is logged in `log` (the import's change log)."""
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
        if log is not None:
            log.add(record.OBJECT, dict(stored), new)
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


def custom_deals(conn: Connection, import_id: int) -> set[str]:
    """Opportunities whose mapped custom fields this import recorded a new value for."""
    v = crm_custom_value.c
    query = select(v.record_id).where(v.import_id == import_id, v.object == "Opportunity")
    found: list[str] = list(conn.execute(query.distinct()).scalars())
    return set(found)
