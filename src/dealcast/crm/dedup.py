"""Contact deduplication by normalised email.

Duplicates are kept (nothing is lost) and point at a canonical contact: the earliest
created, not deleted contact with that email (ties broken by Id). The point-in-time view
shows canonical contacts only and maps references to duplicates onto them.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select

from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.schema import CRM_TABLES


def normalise_email(email: str | None) -> str | None:
    if not email:
        return None
    cleaned = email.strip().lower()
    return cleaned or None


def assign_canonical(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """Set EmailNormalized and CanonicalId on incoming contact rows, and repoint stored
    contacts whose canonical changes. Returns how many stored contacts were repointed."""
    table = CRM_TABLES["Contact"]
    incoming = {r["Id"]: r for r in rows}
    for row in rows:
        row["EmailNormalized"] = normalise_email(row.get("Email"))
    stored = _stored(conn, list(incoming), "Id")
    emails = {r["EmailNormalized"] for r in rows} | {s["EmailNormalized"] for s in stored}
    emails.discard(None)
    seen = {s["Id"] for s in stored}
    stored += [s for s in _stored(conn, sorted(emails), "EmailNormalized") if s["Id"] not in seen]

    members: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for s in stored:
        if s["Id"] not in incoming and s["EmailNormalized"] and not s["IsDeleted"]:
            members[s["EmailNormalized"]].append((s["CreatedDate"], s["Id"]))
    for row in rows:
        if row["EmailNormalized"] and not row["IsDeleted"]:
            members[row["EmailNormalized"]].append((row["CreatedDate"], row["Id"]))
    canonical = {email: min(group)[1] for email, group in members.items()}

    for row in rows:
        email = row["EmailNormalized"]
        row["CanonicalId"] = row["Id"] if row["IsDeleted"] else canonical.get(email, row["Id"])
    repoint = []
    for s in stored:
        if s["Id"] in incoming:
            target = incoming[s["Id"]]["CanonicalId"]
        elif s["IsDeleted"]:
            target = s["Id"]
        else:
            target = canonical.get(s["EmailNormalized"], s["Id"])
        if target != s["CanonicalId"]:
            repoint.append({"b_id": s["Id"], "b_canonical": target})
    if repoint:
        stmt = (
            table.update()
            .where(table.c.Id == bindparam("b_id"))
            .values(CanonicalId=bindparam("b_canonical"))
        )
        conn.execute(stmt, repoint)
    return len(repoint)


def _stored(conn: Connection, keys: list[str], column: str) -> list[dict[str, Any]]:
    table = CRM_TABLES["Contact"]
    cols = [
        table.c.Id,
        table.c.EmailNormalized,
        table.c.CreatedDate,
        table.c.IsDeleted,
        table.c.CanonicalId,
    ]
    out: list[dict[str, Any]] = []
    for i in range(0, len(keys), IN_CHUNK):
        query = select(*cols).where(table.c[column].in_(keys[i : i + IN_CHUNK]))
        out.extend(dict(r) for r in conn.execute(query).mappings())
    return out
