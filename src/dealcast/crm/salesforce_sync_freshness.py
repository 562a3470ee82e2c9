"""How old the synced data is: answers carry the flag, a scheduler alerts on it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from dealcast.crm.schema import salesforce_sync_state
from dealcast.crm.store import Store


@dataclass(frozen=True)
class Freshness:
    last_sync: datetime | None  # naive UTC
    age_seconds: float | None
    stale: bool

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["last_sync"] = self.last_sync.isoformat() if self.last_sync else None
        return out


def freshness(
    store: Store, now: datetime | None = None, max_age_seconds: float = 3600
) -> Freshness:
    """How old the synced data is. Stale when no sync ever committed or the oldest object's
    last committed sync is older than `max_age_seconds` (default one hour). Answers (API,
    chat, CLI) should carry this flag; a scheduler should alert on it."""
    now = (now or datetime.now(UTC)).astimezone(UTC).replace(tzinfo=None)
    with store.engine.connect() as conn:
        stamps: list[datetime] = list(
            conn.execute(select(salesforce_sync_state.c.synced_at)).scalars()
        )
    if not stamps:
        return Freshness(None, None, True)
    oldest = min(stamps)
    age = (now - oldest).total_seconds()
    return Freshness(oldest, age, age > max_age_seconds)
