"""Append-only, hash-chained audit log.

Every entry's hash covers its own fields and the previous entry's hash, so changing,
deleting or reordering any entry breaks the chain from there on; the `audit_head` row holds
the last hash, so truncating the tail is caught too. The database refuses UPDATE/DELETE on
the table (triggers); `verify` catches whoever gets around that.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, update

from dealcast.crm.schema import audit_head, audit_log

GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> str:
    """Stable JSON text: sorted keys, no spaces, datetimes as ISO strings."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def hash_inputs(value: Any) -> str:
    """sha256 of the canonical JSON of `value` (a dict of parameters, file hashes, ...)."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    recorded_at: datetime
    actor: str
    action: str
    subject: str
    as_of: datetime | None
    inputs_hash: str | None
    outputs: dict[str, Any]
    model_version: str | None
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    entries: int
    problem: str | None = None
    bad_seq: int | None = None


def _entry_hash(row: Mapping[str, Any]) -> str:
    fields = [
        row["seq"],
        _iso(row["recorded_at"]),
        row["actor"],
        row["action"],
        row["subject"],
        _iso(row["as_of"]),
        row["inputs_hash"],
        row["outputs"],
        row["model_version"],
        row["prev_hash"],
    ]
    return hashlib.sha256(canonical_json(fields).encode()).hexdigest()


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.replace(tzinfo=None).isoformat(timespec="microseconds")


def append(
    conn: Connection,
    *,
    actor: str,
    action: str,
    subject: str,
    outputs: Mapping[str, Any],
    inputs_hash: str | None = None,
    as_of: datetime | None = None,
    model_version: str | None = None,
    recorded_at: datetime | None = None,
) -> AuditEntry:
    """Append an entry inside the caller's transaction (so it commits or rolls back with
    the work it describes)."""
    # Touch the head row first: this takes the write lock before we read the previous hash.
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=audit_head.c.seq))
    head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).mappings().one()
    row: dict[str, Any] = {
        "seq": head["seq"] + 1,
        "recorded_at": (recorded_at or datetime.now(UTC)).replace(tzinfo=None),
        "actor": actor,
        "action": action,
        "subject": subject,
        "as_of": None if as_of is None else as_of.replace(tzinfo=None),
        "inputs_hash": inputs_hash,
        "outputs": canonical_json(dict(outputs)),
        "model_version": model_version,
        "prev_hash": head["entry_hash"],
    }
    row["entry_hash"] = _entry_hash(row)
    conn.execute(audit_log.insert().values(**row))
    conn.execute(
        update(audit_head)
        .where(audit_head.c.id == 1)
        .values(seq=row["seq"], entry_hash=row["entry_hash"])
    )
    return _to_entry(row)


def _to_entry(row: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(**{**row, "outputs": json.loads(row["outputs"])})


def entries(
    conn: Connection, *, action: str | None = None, limit: int | None = None
) -> list[AuditEntry]:
    """Newest first."""
    query = select(audit_log).order_by(audit_log.c.seq.desc())
    if action:
        query = query.where(audit_log.c.action == action)
    if limit:
        query = query.limit(limit)
    return [_to_entry(dict(r)) for r in conn.execute(query).mappings()]


def _iter_rows(conn: Connection) -> Iterator[Mapping[str, Any]]:
    result = conn.execution_options(yield_per=1000).execute(
        select(audit_log).order_by(audit_log.c.seq)
    )
    for row in result.mappings():
        yield dict(row)


def verify(conn: Connection) -> VerifyResult:
    """Recompute the chain from the genesis hash and compare with the stored head."""
    prev_hash, expected_seq, count = GENESIS_HASH, 1, 0
    for row in _iter_rows(conn):
        seq = row["seq"]
        if seq != expected_seq:
            return VerifyResult(False, count, f"entry {expected_seq} is missing", expected_seq)
        if row["prev_hash"] != prev_hash:
            return VerifyResult(False, count, f"entry {seq} does not link to entry {seq - 1}", seq)
        if _entry_hash(row) != row["entry_hash"]:
            return VerifyResult(False, count, f"entry {seq} was altered after it was written", seq)
        prev_hash, expected_seq, count = row["entry_hash"], seq + 1, count + 1
    head = conn.execute(select(audit_head).where(audit_head.c.id == 1)).mappings().one()
    if head["seq"] != count or head["entry_hash"] != prev_hash:
        return VerifyResult(
            False, count, f"the log ends at entry {count} but the head says {head['seq']}", count
        )
    return VerifyResult(True, count)
