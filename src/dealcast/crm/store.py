"""The CRM store: one SQLAlchemy engine (SQLite or PostgreSQL) behind a small API."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Engine, func, select

from dealcast.crm import audit
from dealcast.crm.db import make_engine, migrate
from dealcast.crm.pit import Snapshot
from dealcast.crm.schema import CRM_TABLES, import_run, metadata, model_registry, quarantine, quota
from dealcast.crm.stages import STANDARD_STAGES, StageConfig


class Store:
    def __init__(self, engine: Engine, stages: StageConfig = STANDARD_STAGES) -> None:
        self.engine = engine
        self.stages = stages

    @classmethod
    def open(cls, url: str, stages: StageConfig = STANDARD_STAGES) -> Store:
        """Connect and bring the schema up to date."""
        engine = make_engine(url)
        migrate(engine)
        return cls(engine, stages)

    def close(self) -> None:
        self.engine.dispose()

    @property
    def backend(self) -> str:
        return self.engine.dialect.name

    def as_of(
        self, t: datetime | date | str, opportunity_ids: Iterable[str] | None = None
    ) -> Snapshot:
        """The CRM as it stood at `t` (see `dealcast.crm.pit`)."""
        return Snapshot(self.engine, t, self.stages, opportunity_ids)

    def counts(self) -> dict[str, int]:
        """Stored rows per object (deleted ones included)."""
        with self.engine.connect() as conn:
            return {
                name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                for name, table in CRM_TABLES.items()
            }

    def data_version(self) -> str:
        """Changes whenever what scores and forecasts are computed from changes: CRM data
        (every import and Salesforce sync, deletions included, commits an `import_run` row
        with its data in one transaction), the model registry (a new model, a promotion or
        rollback) and quotas. Our own outputs (predictions, forecast snapshots, audit rows,
        materialised features) never change it, so caches keyed on it survive chat turns.
        Counts as well as maxima: two imports committing out of id order still change it."""
        query = select(
            select(func.count()).select_from(import_run).scalar_subquery(),
            select(func.max(import_run.c.id)).scalar_subquery(),
            select(func.max(model_registry.c.id)).scalar_subquery(),
            select(func.max(model_registry.c.promoted_at)).scalar_subquery(),
            select(func.count()).select_from(quota).scalar_subquery(),
            select(func.max(quota.c.loaded_at)).scalar_subquery(),
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).one()
        return "|".join("-" if v is None else str(v) for v in row)

    def quarantined(self, import_id: int | None = None) -> list[dict[str, Any]]:
        query = select(quarantine).order_by(quarantine.c.id)
        if import_id is not None:
            query = query.where(quarantine.c.import_id == import_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    def record_audit(self, **entry: Any) -> audit.AuditEntry:
        """Append one audit entry in its own transaction (see `audit.append`)."""
        with self.engine.begin() as conn:
            return audit.append(conn, **entry)

    def audit_entries(
        self, action: str | None = None, limit: int | None = None
    ) -> list[audit.AuditEntry]:
        with self.engine.connect() as conn:
            return audit.entries(conn, action=action, limit=limit)

    def verify_audit(self) -> audit.VerifyResult:
        with self.engine.connect() as conn:
            return audit.verify(conn)

    def fingerprint(self) -> Mapping[str, Any]:
        """Everything stored, as comparable Python values: for tests that prove a failed
        import changed nothing."""
        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for name, table in CRM_TABLES.items():
                rows = conn.execute(select(table).order_by(table.c.Id)).all()
                out[name] = [tuple(r) for r in rows]
            for extra in ("quarantine", "import_run", "audit_log", "audit_head"):
                table = metadata.tables[extra]
                query = select(table).order_by(*table.primary_key.columns)
                out[extra] = [tuple(r) for r in conn.execute(query).all()]
        return out
