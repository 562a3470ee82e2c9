"""text-signal flags by activity row

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity_signal",
        sa.Column("activity_id", sa.String(length=18), nullable=False),
        sa.Column("notes_hidden", sa.Boolean(), nullable=False),
        sa.Column("row_hash", sa.String(length=32), nullable=False),
        sa.Column("version", sa.String(length=16), nullable=False),
        sa.Column("flags", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", "notes_hidden"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("activity_signal")
