"""What a sync reads, spooled into CSVs shaped like a Data Export (contract field names,
export value formats), so the export import's own path writes it."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select

from dealcast.crm.salesforce_sync_report import ObjectSync
from dealcast.crm.schema import CRM_TABLES
from dealcast.crm.store import Store


def soql_datetime(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def spool_pages(path: Path, fields: dict[str, str], pages: list[str]) -> int:
    """Bulk CSV pages into one export-shaped CSV: the header renamed to contract names,
    each later page's header dropped, the data copied as is."""
    contract = {api: name for name, api in fields.items()}
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        for i, page in enumerate(pages):
            head, _, body = page.partition("\n")
            if i == 0:
                names = next(csv.reader([head]))
                csv.writer(handle, lineterminator="\n").writerow(
                    [contract.get(n, n) for n in names]
                )
            if body:
                handle.write(body if body.endswith("\n") else body + "\n")
            count += sum(1 for _ in csv.reader(io.StringIO(body)))
    return count


def spool_rows(path: Path, fields: dict[str, str], rows: list[dict[str, Any]]) -> int:
    """Write what was read as an export-shaped CSV: contract names, export value format."""
    names = list(fields)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([csv_text(row.get(fields[n])) for n in names])
    return len(rows)


def fill_missing(store: Store, result: ObjectSync) -> None:
    """Fields the org no longer serves keep their last stored values (and new rows
    leave them empty), so a renamed field never wipes good data."""
    assert result.path is not None
    with result.path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    table = CRM_TABLES[result.object]
    ids = [r["Id"] for r in rows]
    stored: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as conn:
        cols = [table.c.Id, *(table.c[f] for f in result.missing)]
        for i in range(0, len(ids), 500):
            query = select(*cols).where(table.c.Id.in_(ids[i : i + 500]))
            stored.update({r["Id"]: dict(r) for r in conn.execute(query).mappings()})
    header = [*rows[0].keys(), *result.missing] if rows else ["Id", *result.missing]
    with result.path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            old = stored.get(row["Id"], {})
            for f in result.missing:
                row[f] = csv_text(old.get(f))
            writer.writerow(row)
