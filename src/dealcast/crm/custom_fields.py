"""CRM fields outside the record contract, mapped to feature names and kept point-in-time.

The field map's `custom:` section (see `salesforce_sync_config.load_custom_map`) names
them: `custom: {Opportunity: {Budget_Confirmed__c: budget_confirmed}}`. The sync queries
each one under the spool column `custom.<feature>` (Bulk and REST alike, the import ignores
the column) and `save_values` appends a row whenever a record's value differs from the
last one stored, known from the record's SystemModstamp: a record's fields are exactly as
read at its SystemModstamp (any edit moves it), so nothing is dated before it was true.

`values_as_of(T)` answers with the latest row known at or before T per record and feature.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Connection, func, select

from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.records import RECORDS_BY_OBJECT
from dealcast.crm.schema import crm_custom_value
from dealcast.crm.store import Store

log = logging.getLogger(__name__)

COLUMN_PREFIX = "custom."  # spool column of a custom field: custom.<feature>
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")  # goes into SOQL: letters, digits, _
_FEATURE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
TRUE_TEXTS = frozenset({"true", "1", "yes", "y", "checked"})

# {Object: {Salesforce API name: feature name}}
CustomMap = dict[str, dict[str, str]]


def parse_custom_map(raw: Any, source: str) -> CustomMap:
    """Validate the `custom:` section; a bad entry is a ValueError naming it."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ValueError(f"{source}: custom must map objects to {{ApiName: feature}}")
    out: CustomMap = {}
    for obj, fields in raw.items():
        record = RECORDS_BY_OBJECT.get(str(obj))
        if record is None:
            valid = ", ".join(RECORDS_BY_OBJECT)
            raise ValueError(f"{source}: custom: unknown object {obj!r} (valid: {valid})")
        if not isinstance(fields, Mapping):
            raise ValueError(f"{source}: custom.{obj} must map API names to feature names")
        mapped: dict[str, str] = {}
        for api, feature in fields.items():
            api, feature = str(api), str(feature)
            if not _API_NAME.match(api):
                raise ValueError(f"{source}: custom.{obj}: {api!r} is not a field API name")
            if api in record.model_fields:
                raise ValueError(
                    f"{source}: custom.{obj}: {api} is a contract field; rename it in the "
                    f"{obj} section instead"
                )
            if not _FEATURE.match(feature):
                raise ValueError(
                    f"{source}: custom.{obj}.{api}: feature name {feature!r} must be "
                    "lower_snake_case (a-z, 0-9, _)"
                )
            if feature in mapped.values():
                raise ValueError(f"{source}: custom.{obj}: feature {feature!r} is mapped twice")
            mapped[api] = feature
        if mapped:
            out[str(obj)] = mapped
    return out


def query_fields(mapped: Mapping[str, str]) -> dict[str, str]:
    """Spool column -> API name to add to an object's query: the custom fields and the
    SystemModstamp their values are dated by."""
    if not mapped:
        return {}
    out = {f"{COLUMN_PREFIX}{feature}": api for api, feature in mapped.items()}
    out["SystemModstamp"] = "SystemModstamp"
    return out


def is_custom_column(name: str) -> bool:
    return name.startswith(COLUMN_PREFIX)


def truthy(value: str | None) -> bool:
    """A checkbox or flag as text: true/1/yes (any case) is true, anything else false."""
    return value is not None and value.strip().lower() in TRUE_TEXTS


def _stamp(text: str) -> datetime | None:
    """A SystemModstamp as Bulk (…Z) or REST (…+0000) writes it, as naive UTC."""
    text = text.strip()
    if not text:
        return None
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]
    value = datetime.fromisoformat(text)
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def save_values(conn: Connection, obj: str, spool: Path, import_id: int) -> int:
    """Append the custom values in a spooled CSV that differ from the latest stored ones
    (the sync's overlap re-reads records unchanged: those add nothing). The rows read."""
    with spool.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = [c for c in reader.fieldnames or [] if is_custom_column(c)]
        if not columns:
            return 0
        rows = [r for r in reader if r.get("Id")]
    features = [c[len(COLUMN_PREFIX) :] for c in columns]
    latest = _latest(conn, obj, features, [r["Id"] for r in rows])
    read_at = datetime.now(UTC).replace(tzinfo=None)
    added = []
    for row in rows:
        # without a SystemModstamp the value is known from when we read it (never earlier)
        known = _stamp(row.get("SystemModstamp") or "") or read_at
        for column, feature in zip(columns, features, strict=True):
            value = row.get(column) or None
            stored = latest.get((row["Id"], feature))
            if stored is not None and (stored[1] == value or stored[0] >= known):
                continue  # unchanged, or not newer than what is stored
            if stored is None and value is None:
                continue  # never set: nothing to remember
            added.append(
                {
                    "object": obj,
                    "record_id": row["Id"],
                    "feature": feature,
                    "value": value,
                    "known_from": known,
                    "import_id": import_id,
                }
            )
    if added:
        conn.execute(crm_custom_value.insert(), added)
    log.debug("%s: %d custom values changed in %d rows", obj, len(added), len(rows))
    return len(added)


def _latest(
    conn: Connection, obj: str, features: list[str], ids: list[str]
) -> dict[tuple[str, str], tuple[datetime, str | None]]:
    """(record id, feature) -> (known_from, value) of the newest stored row."""
    c = crm_custom_value.c
    out: dict[tuple[str, str], tuple[datetime, str | None]] = {}
    for i in range(0, len(ids), IN_CHUNK):
        newest = (
            select(c.record_id, c.feature, func.max(c.known_from).label("known"))
            .where(c.object == obj, c.feature.in_(features), c.record_id.in_(ids[i : i + IN_CHUNK]))
            .group_by(c.record_id, c.feature)
            .subquery()
        )
        query = select(c.record_id, c.feature, c.known_from, c.value).join(
            newest,
            (c.record_id == newest.c.record_id)
            & (c.feature == newest.c.feature)
            & (c.known_from == newest.c.known),
        )
        for r in conn.execute(query.where(c.object == obj)):
            out[(r.record_id, r.feature)] = (r.known_from, r.value)
    return out


def history(
    store: Store,
    as_of: datetime,
    obj: str = "Opportunity",
    features: Iterable[str] | None = None,
    record_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Every stored value known at `as_of` (columns RecordId, Feature, Value, Known; oldest
    first): what features at any t <= as_of may use (the value at t: the last row with
    Known <= t)."""
    c = crm_custom_value.c
    query = select(
        c.record_id.label("RecordId"),
        c.feature.label("Feature"),
        c.value.label("Value"),
        c.known_from.label("Known"),
    ).where(c.object == obj, c.known_from <= as_of)
    if features is not None:
        query = query.where(c.feature.in_(sorted(set(features))))
    chunks: list[list[str] | None] = [None]
    if record_ids is not None:
        ids = sorted(set(record_ids))
        chunks = [ids[i : i + IN_CHUNK] for i in range(0, len(ids), IN_CHUNK)]
    parts = []
    with store.engine.connect() as conn:
        for chunk in chunks:
            scoped = query if chunk is None else query.where(c.record_id.in_(chunk))
            parts.append(pd.DataFrame(conn.execute(scoped).all(), columns=_COLUMNS))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=_COLUMNS)
    frame["Known"] = pd.to_datetime(frame["Known"]).astype("datetime64[ns]")
    return frame.sort_values(["Known", "RecordId"], kind="stable").reset_index(drop=True)


_COLUMNS = ["RecordId", "Feature", "Value", "Known"]


def values_as_of(
    store: Store,
    as_of: datetime,
    obj: str = "Opportunity",
    features: Iterable[str] | None = None,
    record_ids: Iterable[str] | None = None,
) -> dict[tuple[str, str], str | None]:
    """(record id, feature) -> the value known at `as_of` (latest row with known_from <=
    as_of). Records with no value known then are absent."""
    frame = history(store, as_of, obj, features, record_ids)
    last = frame.drop_duplicates(["RecordId", "Feature"], keep="last")
    return {
        (str(r), str(f)): v
        for r, f, v in zip(last["RecordId"], last["Feature"], last["Value"], strict=True)
    }
