"""What one Salesforce sync did: per object (`ObjectSync`) and in all (`SyncReport`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from dealcast.crm.export_import import ImportReport


@dataclass
class ObjectSync:
    object: str
    mode: str  # full | incremental | skipped
    fields: dict[str, str]  # contract field -> API name actually read
    missing: list[str] = field(default_factory=list)  # contract fields the org lacks now
    # mapped custom fields the org lacks now (API names); their stored values stay
    missing_custom: list[str] = field(default_factory=list)
    records: int = 0
    deleted_ids: list[str] = field(default_factory=list)
    watermark: datetime | None = None
    path: Path | None = None
    error: str | None = None


@dataclass
class SyncReport:
    mode: str
    objects: list[ObjectSync]
    api_calls: int
    api_usage: tuple[int, int] | None
    retries: int
    rate_limited: int
    reauths: int
    seconds: float
    imported: ImportReport
    mismatches: list[str]
    changed_opportunities: list[str] | None  # None: a full sync (everything may change)
    deleted: int
    people_changed: bool = False  # users (names, managers) changed: roll-ups must follow

    @property
    def flagged(self) -> bool:
        return self.imported.flagged or bool(self.mismatches)

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "api_calls": self.api_calls,
            "api_usage": list(self.api_usage) if self.api_usage else None,
            "retries": self.retries,
            "rate_limited": self.rate_limited,
            "reauths": self.reauths,
            "seconds": round(self.seconds, 3),
            "flagged": self.flagged,
            "mismatches": self.mismatches,
            "deleted": self.deleted,
            "changed_opportunities": self.changed_opportunities,
            "people_changed": self.people_changed,
            "objects": [
                {
                    "object": o.object,
                    "mode": o.mode,
                    "records": o.records,
                    "missing_fields": o.missing,
                    "missing_custom_fields": o.missing_custom,
                    "deleted_ids": len(o.deleted_ids),
                    "watermark": o.watermark.isoformat() if o.watermark else None,
                    "error": o.error,
                }
                for o in self.objects
            ],
            "import": self.imported.as_dict(),
        }
