"""The emulator's org: an export folder loaded into typed records, one table per object.

Field types come from the record contract (`dealcast.crm.records`); columns the contract
does not know are served as strings. Every object gets `SystemModstamp` (a system field on
every Salesforce object): taken from the export when present, else the latest of
`LastModifiedDate`/`CreatedDate`, else a fixed epoch.
"""

from __future__ import annotations

import bisect
import csv
import threading
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from dealcast.crm.records import RECORD_TYPES, RECORDS_BY_OBJECT, SfRecord

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
Kind = str  # id | string | bool | int | float | date | datetime


def field_kind(record: type[SfRecord] | None, name: str) -> Kind:
    if record is None or name not in record.model_fields:
        if name in ("SystemModstamp", "LastModifiedDate", "CreatedDate"):
            return "datetime"
        return "id" if name == "Id" or name.endswith("Id") else "string"
    annotation = record.model_fields[name].annotation
    is_union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    args = typing.get_args(annotation) if is_union else ()
    base = next((a for a in args if a is not type(None)), annotation)
    if typing.get_origin(base) is typing.Annotated:
        base = typing.get_args(base)[0]
    if name == "Id" or name.endswith("Id"):
        return "id"
    kinds: dict[Any, Kind] = {
        bool: "bool",
        int: "int",
        float: "float",
        date: "date",
        datetime: "datetime",
    }
    return kinds.get(base, "string")


def parse_datetime(text: str) -> datetime:
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    elif len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # +0000 -> +00:00
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_value(kind: Kind, text: str) -> Any:
    if text == "":
        return None
    if kind == "bool":
        return text.strip().lower() in ("true", "1")
    if kind == "int":
        return int(float(text))
    if kind == "float":
        return float(text)
    if kind == "date":
        return date.fromisoformat(text.strip()[:10])
    if kind == "datetime":
        return parse_datetime(text)
    return text


def json_value(kind: Kind, value: Any) -> Any:
    """A value as Salesforce's REST API writes it in JSON."""
    if value is None:
        return None
    if kind == "datetime":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"
    if kind == "date":
        return value.isoformat()
    if kind == "float" and float(value).is_integer():
        return float(value)
    return value


def csv_value(kind: Kind, value: Any) -> str:
    """A value as Bulk API 2.0 writes it in CSV results."""
    if value is None:
        return ""
    if kind == "datetime":
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if kind == "date":
        return str(value.isoformat())
    if kind == "bool":
        return "true" if value else "false"
    if kind == "float" and float(value).is_integer():
        return str(int(value))
    return str(value)


def csv_formatter(kind: Kind) -> Callable[[Any], str]:
    """`csv_value` for one column kind, the dispatch done once (Bulk pages of 50,000)."""
    if kind in ("id", "string"):
        return lambda value: "" if value is None else str(value)
    if kind == "datetime":
        return lambda value: (
            "" if value is None else f"{value:%Y-%m-%dT%H:%M:%S}.{value.microsecond // 1000:03d}Z"
        )
    return lambda value: csv_value(kind, value)


@dataclass
class SObjectTable:
    name: str
    fields: list[str]  # served API names, in describe order
    kinds: dict[str, Kind]
    records: dict[str, dict[str, Any]] = field(default_factory=dict)  # by Id, insertion order
    # (SystemModstamp, Id) sorted: Salesforce indexes SystemModstamp, so an incremental
    # query does not scan the object. Built on first use, kept up by `put`; entries of
    # records changed again or purged since are stale and filtered out by the caller.
    _stamps: list[tuple[datetime, str]] | None = field(default=None, repr=False)

    def field_named(self, name: str) -> str | None:
        """The canonical spelling of a field (SOQL names are case-insensitive)."""
        lowered = name.lower()
        return next((f for f in self.fields if f.lower() == lowered), None)

    def put(self, rec: dict[str, Any]) -> None:
        """Insert or replace a record (replace, never edit in place: a Bulk job created
        earlier keeps the records as they were when it ran)."""
        self.records[str(rec["Id"])] = rec
        if self._stamps is not None:
            bisect.insort(self._stamps, (rec["SystemModstamp"], str(rec["Id"])))

    def modified_since(self, floor: datetime) -> list[dict[str, Any]]:
        """Records whose SystemModstamp is >= `floor`, by the index (in stamp order)."""
        if self._stamps is None:
            self._stamps = sorted((r["SystemModstamp"], i) for i, r in self.records.items())
        start = bisect.bisect_left(self._stamps, (floor, ""))
        out: dict[str, dict[str, Any]] = {}
        for stamp, rec_id in self._stamps[start:]:
            rec = self.records.get(rec_id)
            if rec is not None and rec["SystemModstamp"] == stamp:
                out[rec_id] = rec
        return list(out.values())


@dataclass
class Deletion:
    id: str
    deleted: datetime


class OrgData:
    """All objects of one org, guarded by one lock (the server is threaded)."""

    def __init__(self, tables: dict[str, SObjectTable]) -> None:
        self.tables = tables
        self.deletions: dict[str, list[Deletion]] = {name: [] for name in tables}
        self.lock = threading.RLock()

    @classmethod
    def load(cls, folder: Path) -> OrgData:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder} is not an export folder")
        tables: dict[str, SObjectTable] = {}
        ids: dict[str, str] = {}
        for record in RECORD_TYPES:
            path = folder / f"{record.OBJECT}.csv"
            if path.is_file():
                tables[record.OBJECT] = _load_table(record.OBJECT, path, ids)
        if not tables:
            raise FileNotFoundError(f"no object CSVs (User.csv, Account.csv, ...) in {folder}")
        return cls(tables)

    def table(self, name: str) -> SObjectTable | None:
        lowered = name.lower()
        return next((t for n, t in self.tables.items() if n.lower() == lowered), None)

    def rename_field(self, obj: str, old: str, new: str) -> None:
        """Fault injection: an admin renamed a field (API name change)."""
        with self.lock:
            table = self.tables[obj]
            table.fields = [new if f == old else f for f in table.fields]
            table.kinds[new] = table.kinds.pop(old)
            for rec in table.records.values():
                rec[new] = rec.pop(old, None)
            table._stamps = None


def _converter(kind: Kind, ids: dict[str, str] | None) -> Callable[[str], Any]:
    """Text -> value for one column kind (the fast path of `parse_value`; "" is None).
    `ids` shares one string per distinct referenced Id across the org."""
    if kind == "id" and ids is not None:
        return lambda text: ids.setdefault(text, text)
    if kind in ("id", "string"):
        return str
    if kind == "datetime":
        return _datetime
    if kind == "date":
        return lambda text: date.fromisoformat(text[:10])
    if kind == "bool":
        return lambda text: text == "true" or text.strip().lower() in ("true", "1")
    if kind == "float":
        return float
    return lambda text: parse_value(kind, text)


def _datetime(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return parse_datetime(text)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value if value.tzinfo is UTC else value.astimezone(UTC)


def _load_table(name: str, path: Path, ids: dict[str, str]) -> SObjectTable:
    record = RECORDS_BY_OBJECT.get(name)
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        fields = list(header)
        if "SystemModstamp" not in fields:
            fields.append("SystemModstamp")
        kinds = {f: field_kind(record, f) for f in fields}
        columns = [(f, _converter(kinds[f], None if f == "Id" else ids)) for f in header]
        table = SObjectTable(name, fields, kinds)
        records = table.records
        for row in reader:
            if not row:
                continue
            rec = {f: conv(v) if v else None for (f, conv), v in zip(columns, row, strict=False)}
            if rec.get("SystemModstamp") is None:
                stamps = [rec.get("LastModifiedDate"), rec.get("CreatedDate")]
                rec["SystemModstamp"] = max((s for s in stamps if s is not None), default=EPOCH)
            rec.setdefault("IsDeleted", False)
            records[str(rec["Id"])] = rec
    if "IsDeleted" not in table.fields:
        table.fields.insert(1, "IsDeleted")
        table.kinds["IsDeleted"] = "bool"
    return table
