"""The migrations and the tables the code queries must describe the same database."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from dealcast.crm.db import make_engine, migrate
from dealcast.crm.records import RECORD_TYPES
from dealcast.crm.schema import CRM_TABLES, metadata, table_name


def test_migrations_match_the_schema(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    migrate(engine)
    migrate(engine)  # idempotent
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_every_record_field_has_a_column() -> None:
    for record in RECORD_TYPES:
        table = CRM_TABLES[record.OBJECT]
        assert table.name == table_name(record.OBJECT)
        assert set(record.field_names()) <= set(table.c.keys())
    assert table_name("OpportunityContactRole") == "opportunity_contact_role"
