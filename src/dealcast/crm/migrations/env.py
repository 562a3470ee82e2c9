"""Alembic environment: runs on the connection the caller passes in `attributes`."""

from __future__ import annotations

from alembic import context

from dealcast.crm.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only `alembic` CLI use lands here
    raise RuntimeError("run migrations through dealcast.crm.db.migrate()")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
