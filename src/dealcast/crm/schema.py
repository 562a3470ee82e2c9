"""SQLAlchemy tables. CRM tables mirror the record classes column for column (API names).

Bookkeeping columns start with an underscore: `_row_hash` (what makes re-imports no-ops)
and `_import_id` (which import last wrote the row). Datetimes are stored as naive UTC.
Migrations in `migrations/versions` are the source of truth for the database; this module
is what the code queries, and a test checks the two agree.
"""

from __future__ import annotations

import types
import typing
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeEngine

from dealcast.crm.records import RECORD_TYPES, SfRecord

metadata = MetaData()


def table_name(object_name: str) -> str:
    """`OpportunityContactRole` -> `opportunity_contact_role`."""
    out = [object_name[0].lower()]
    for ch in object_name[1:]:
        out.append("_" + ch.lower() if ch.isupper() else ch)
    return "".join(out)


def _column_type(record: type[SfRecord], field: str) -> TypeEngine[typing.Any]:
    annotation = record.model_fields[field].annotation
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    args = typing.get_args(annotation) if is_union else ()
    base = next((a for a in args if a is not type(None)), annotation)
    if typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    if field == "Id" or field.endswith("Id"):
        return String(18)
    if base is datetime:
        return DateTime()
    if base is date:
        return Date()
    if base is bool:
        return Boolean()
    if base is int:
        return BigInteger()
    if base is float:
        return Float()
    return Text()


def _record_table(record: type[SfRecord]) -> Table:
    name = table_name(record.OBJECT)
    columns: list[Column[Any]] = [Column("Id", String(18), primary_key=True)]
    for field in record.field_names():
        if field == "Id":
            continue
        nullable = field != "IsDeleted" and not record.model_fields[field].is_required()
        columns.append(Column(field, _column_type(record, field), nullable=nullable))
    if record.OBJECT == "Contact":
        # Dedup by normalised email: duplicates keep their row and point at the canonical
        # contact (the earliest created), so nothing is lost and references still resolve.
        columns.append(Column("EmailNormalized", Text, nullable=True))
        columns.append(Column("CanonicalId", String(18), nullable=False))
    columns.append(Column("_row_hash", String(32), nullable=False))
    columns.append(Column("_import_id", Integer, nullable=False))
    return Table(name, metadata, *columns)


CRM_TABLES: dict[str, Table] = {r.OBJECT: _record_table(r) for r in RECORD_TYPES}

# Indexes the point-in-time view and the features lean on.
Index("ix_opportunity_history_opp", CRM_TABLES["OpportunityHistory"].c.OpportunityId)
Index("ix_opportunity_created", CRM_TABLES["Opportunity"].c.CreatedDate)
Index("ix_contact_role_opp", CRM_TABLES["OpportunityContactRole"].c.OpportunityId)
Index("ix_contact_email", CRM_TABLES["Contact"].c.EmailNormalized)
Index("ix_task_what", CRM_TABLES["Task"].c.WhatId)
Index("ix_task_created", CRM_TABLES["Task"].c.CreatedDate)
Index("ix_event_what", CRM_TABLES["Event"].c.WhatId)
Index("ix_event_created", CRM_TABLES["Event"].c.CreatedDate)
Index("ix_email_related", CRM_TABLES["EmailMessage"].c.RelatedToId)
Index("ix_email_created", CRM_TABLES["EmailMessage"].c.CreatedDate)

import_run = Table(
    "import_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("source", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("actor", Text, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime, nullable=True),
    Column("inputs_hash", String(64), nullable=True),
    Column("counts", JSON, nullable=True),
    Column("quality_score", Float, nullable=True),
    Column("flagged", Boolean, nullable=False, default=False),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("import_id", Integer, nullable=False, index=True),
    Column("object", String(64), nullable=False),
    Column("file", Text, nullable=False),
    Column("line", Integer, nullable=False),
    Column("record_id", String(64), nullable=True),
    Column("field", String(128), nullable=True),
    Column("value", Text, nullable=True),
    Column("reason", Text, nullable=False),
    Column("raw", JSON, nullable=False),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("recorded_at", DateTime, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False, index=True),
    Column("subject", Text, nullable=False),
    Column("as_of", DateTime, nullable=True),
    Column("inputs_hash", String(64), nullable=True),
    Column("outputs", Text, nullable=False),
    Column("model_version", String(64), nullable=True),
    Column("prev_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

# One row (id=1) holding the chain's head. Appends update it first: that row lock (Postgres)
# or write lock (SQLite) serialises concurrent appends, and it lets `verify` notice a
# truncated tail.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("entry_hash", String(64), nullable=False),
)

# ---- ML: model registry, predictions, materialised features --------------------------

model_registry = Table(
    "model_registry",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("version", String(32), nullable=False),
    Column("major", Integer, nullable=False),
    Column("minor", Integer, nullable=False),
    Column("patch", Integer, nullable=False),
    Column("status", String(16), nullable=False),  # champion | challenger | retired
    Column("created_at", DateTime, nullable=False),
    Column("promoted_at", DateTime, nullable=True),
    Column("trained_as_of", DateTime, nullable=False),
    Column("feature_set_hash", String(64), nullable=False),
    Column("data_hash", String(64), nullable=False),
    Column("info", JSON, nullable=False),
    Column("artifact", LargeBinary, nullable=False),
    UniqueConstraint("name", "version", name="uq_model_registry_version"),
)

prediction = Table(
    "prediction",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("batch_id", String(32), nullable=False, index=True),
    Column("opportunity_id", String(18), nullable=False),
    Column("as_of", DateTime, nullable=False),
    Column("scored_at", DateTime, nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("win_probability", Float, nullable=False),
    Column("confidence", Float, nullable=False),
    Column("needs_review", Boolean, nullable=False),
    Column("payload", JSON, nullable=False),
    Index("ix_prediction_opp_asof", "opportunity_id", "as_of"),
)

deal_features = Table(
    "deal_features",
    metadata,
    Column("opportunity_id", String(18), primary_key=True),
    Column("as_of", DateTime, primary_key=True),
    Column("feature_version", String(16), primary_key=True),
    Column("computed_at", DateTime, nullable=False),
    Column("values", JSON, nullable=False),
)

# Text signals per activity, keyed by the text's hash: computed once, reused by every
# feature build and risk scan (a regex pass over millions of emails is the slow part).
text_signal = Table(
    "text_signal",
    metadata,
    Column("activity_id", String(18), primary_key=True),
    Column("text_hash", String(32), primary_key=True),
    Column("version", String(16), nullable=False),
    Column("flags", Integer, nullable=False),  # bit i = SIGNALS[i]
)

# Text-signal flags by activity row (`ml.activity_signals`): a rescore finds an activity's
# flags without reading and hashing its text. The text at T is fixed by the row (`_row_hash`
# changes with any edit) and whether its notes are hidden at T (it is dated later).
activity_signal = Table(
    "activity_signal",
    metadata,
    Column("activity_id", String(18), primary_key=True),
    Column("notes_hidden", Boolean, primary_key=True),
    Column("row_hash", String(32), nullable=False),
    Column("version", String(16), nullable=False),  # as text_signal.version
    Column("flags", Integer, nullable=False),
    sqlite_with_rowid=False,  # one B-tree: a lookup is one seek (it is joined per activity)
)

# ---- Forecasts: snapshots, quotas, scenarios, backtests, human calls -----------------

# One row per period of every generated forecast (run_id groups a run's periods): the
# history of how expected/P10/P90 moved, and what accuracy-by-snapshot is computed from.
forecast_snapshot = Table(
    "forecast_snapshot",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(32), nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
    Column("as_of", DateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("scenario", String(128), nullable=True),  # None = the baseline forecast
    Column("period_kind", String(8), nullable=False),
    Column("period", String(16), nullable=False),
    Column("start", Date, nullable=False),
    Column("end", Date, nullable=False),
    Column("method", String(16), nullable=False),
    Column("model_version", String(32), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("closed_won", Float, nullable=False),
    Column("expected", Float, nullable=False),
    Column("p10", Float, nullable=True),
    Column("p50", Float, nullable=True),
    Column("p90", Float, nullable=True),
    Column("deterministic", Float, nullable=False),
    Column("unreliable", Boolean, nullable=False),
    Column("payload", JSON, nullable=False),  # the full period row, roll-ups included
    Index("ix_forecast_snapshot_period", "period", "as_of"),
)

# Quotas in Salesforce's ForecastingQuota shape: an owner's quota for the month or quarter
# starting on start_date; a period's quota is the sum of the quotas starting inside it.
quota = Table(
    "quota",
    metadata,
    Column("owner_id", String(18), primary_key=True),
    Column("start_date", Date, primary_key=True),
    Column("amount", Float, nullable=False),
    Column("source", String(256), nullable=False),
    Column("loaded_at", DateTime, nullable=False),
)

scenario = Table(
    "scenario",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("spec", JSON, nullable=False),
    Column("created_by", String(128), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

backtest_run = Table(
    "backtest_run",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("period_kind", String(8), nullable=False),
    Column("from_date", Date, nullable=False),
    Column("to_date", Date, nullable=False),
    Column("scorer", String(32), nullable=False),
    Column("summary", JSON, nullable=False),  # metrics per method (ours and baselines)
    Column("rows", JSON, nullable=False),  # one row per snapshot date and period
)

# Human forecast calls: every submission and override is a new row, never an update.
forecast_submission = Table(
    "forecast_submission",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime, nullable=False),
    Column("period", String(16), nullable=False),
    Column("category", String(16), nullable=False),  # Commit | Best Case
    Column("owner_id", String(18), nullable=False),  # whose number (rep, or manager's team)
    Column("submitted_by", String(128), nullable=False),
    Column("kind", String(16), nullable=False),  # submission | override
    Column("amount", Float, nullable=False),
    Column("previous_amount", Float, nullable=True),
    Column("note", String(2000), nullable=False),
    Index("ix_forecast_submission_period", "period", "owner_id", "category"),
)

# ---- Live Salesforce sync ------------------------------------------------------------

# One row per synced object, written in the same transaction as the sync's data: a crash
# mid-sync leaves the last committed watermark, so the next sync resumes from it.
salesforce_sync_state = Table(
    "salesforce_sync_state",
    metadata,
    Column("object", String(64), primary_key=True),
    Column("watermark", DateTime, nullable=False),  # server time the data is complete up to
    Column("synced_at", DateTime, nullable=False),
    Column("import_id", Integer, nullable=False),
    Column("mode", String(16), nullable=False),  # full | incremental
    Column("fields", JSON, nullable=False),  # last known good mapping: contract -> API name
)

# CRM fields outside the record contract (custom fields named in the field map), kept
# point-in-time: a row per value change, known from the record's SystemModstamp when the
# sync read it (see `crm.custom_fields`). Rows are only appended, never updated.
crm_custom_value = Table(
    "crm_custom_value",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("object", String(64), nullable=False),
    Column("record_id", String(18), nullable=False),
    Column("feature", String(64), nullable=False),
    Column("value", Text, nullable=True),
    Column("known_from", DateTime, nullable=False),
    Column("import_id", Integer, nullable=False),
    UniqueConstraint(
        "object", "feature", "record_id", "known_from", name="uq_crm_custom_value_known"
    ),
)

# A lease per job name (`crm.sync_lock`): one sync at a time across server processes and
# the CLI, on SQLite and PostgreSQL alike. A holder that dies stops renewing and the lease
# runs out.
sync_lock = Table(
    "sync_lock",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("acquired_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)
