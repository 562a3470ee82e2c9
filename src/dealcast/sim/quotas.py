"""Quotas: load a CSV in Salesforce's ForecastingQuota shape, read them back.

Columns `QuotaOwnerId,StartDate,QuotaAmount` (an export of ForecastingQuota) or
`owner_id,start_date,amount`. All or nothing: any bad line (unknown owner, bad date,
negative or non-numeric amount, duplicate owner + start date) stops the load with the file
and line, and nothing is written. A reload replaces the quotas it names and keeps others.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, select

from dealcast.crm import audit, schema
from dealcast.crm.store import Store

COLUMNS = {
    "owner_id": ("QuotaOwnerId", "owner_id"),
    "start_date": ("StartDate", "start_date"),
    "amount": ("QuotaAmount", "amount"),
}


@dataclass(frozen=True)
class QuotaRow:
    owner_id: str
    start_date: date
    amount: float


def _header(fields: list[str], path: Path) -> dict[str, str]:
    found = {}
    for key, names in COLUMNS.items():
        match = next((n for n in names if n in fields), None)
        if match is None:
            raise ValueError(f"{path}: missing column {' or '.join(names)} (header: {fields})")
        found[key] = match
    return found


def read_quotas(path: Path, known_users: set[str]) -> list[QuotaRow]:
    rows: list[QuotaRow] = []
    seen: dict[tuple[str, date], int] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        cols = _header(list(reader.fieldnames or []), path)
        for record in reader:
            line = reader.line_num
            owner = (record[cols["owner_id"]] or "").strip()
            if owner not in known_users:
                raise ValueError(f"{path}:{line}: unknown quota owner {owner!r} (not a User Id)")
            try:
                start = date.fromisoformat((record[cols["start_date"]] or "").strip()[:10])
            except ValueError:
                raise ValueError(
                    f"{path}:{line}: StartDate {record[cols['start_date']]!r} is not YYYY-MM-DD"
                ) from None
            try:
                amount = float(record[cols["amount"]])
            except (TypeError, ValueError):
                raise ValueError(
                    f"{path}:{line}: QuotaAmount {record[cols['amount']]!r} is not a number"
                ) from None
            if not amount >= 0:
                raise ValueError(f"{path}:{line}: QuotaAmount must be >= 0, got {amount}")
            if (owner, start) in seen:
                raise ValueError(
                    f"{path}:{line}: duplicate quota for {owner} starting {start}"
                    f" (first on line {seen[owner, start]})"
                )
            seen[owner, start] = line
            rows.append(QuotaRow(owner, start, amount))
    return rows


def load_quotas(store: Store, path: Path, *, actor: str = "system") -> int:
    users = set(store.as_of(datetime.now(UTC)).users()["Id"])
    rows = read_quotas(Path(path), users)
    now = datetime.now(UTC).replace(tzinfo=None)
    with store.engine.begin() as conn:
        for r in rows:
            conn.execute(
                delete(schema.quota).where(
                    (schema.quota.c.owner_id == r.owner_id)
                    & (schema.quota.c.start_date == r.start_date)
                )
            )
        if rows:
            conn.execute(
                schema.quota.insert(),
                [
                    {
                        "owner_id": r.owner_id,
                        "start_date": r.start_date,
                        "amount": r.amount,
                        "source": str(path)[:256],
                        "loaded_at": now,
                    }
                    for r in rows
                ],
            )
        audit.append(  # in the same transaction: no quota change without its audit row
            conn,
            actor=actor,
            action="quotas_loaded",
            subject=str(path),
            inputs_hash=audit.hash_inputs(
                [(r.owner_id, str(r.start_date), r.amount) for r in rows]
            ),
            outputs={"rows": len(rows)},
        )
    return len(rows)


def quotas_frame(store: Store) -> pd.DataFrame:
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(schema.quota.c.owner_id, schema.quota.c.start_date, schema.quota.c.amount)
        ).all()
    return pd.DataFrame(rows, columns=["owner_id", "start_date", "amount"])
