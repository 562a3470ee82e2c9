"""Live Salesforce sync with simple-salesforce: Bulk 2.0 for full reads, SystemModstamp
watermarks (with an overlap window) over REST `queryAll` plus `sobjects/<O>/deleted` for
increments.

Everything read is spooled into CSVs shaped like a Data Export and written through the
export import's own path (`ImportRun`: validation, upsert by content hash, quarantine,
quality, audit), in ONE transaction together with the new watermarks. A crash anywhere
leaves the last committed watermarks, and the overlap plus content-hash upserts make a
re-run idempotent.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from sqlalchemy import Connection, select

from dealcast.crm import audit
from dealcast.crm.dedup import assign_canonical
from dealcast.crm.export_import import ImportReport, ImportRun, ObjectReport
from dealcast.crm.records import RECORD_TYPES, SfRecord
from dealcast.crm.salesforce_sync_config import SalesforceSettings, connect, load_field_map
from dealcast.crm.salesforce_sync_http import (
    CallMeter,
    CallStats,
    RateLimited,
    RetryPolicy,
    call_with_retries,
    error_message,
    make_session,
)
from dealcast.crm.schema import CRM_TABLES, salesforce_sync_state
from dealcast.crm.store import Store
from dealcast.crm.upsert import row_values

log = logging.getLogger(__name__)
T = TypeVar("T")
_NO_COLUMN = re.compile(r"No such column '(\w+)'")
REPLICATION_DAYS = 29  # sobjects/<O>/deleted only reaches 30 days back
OPPORTUNITY_LINKS = {
    "Opportunity": "Id",
    "OpportunityHistory": "OpportunityId",
    "OpportunityContactRole": "OpportunityId",
    "Task": "WhatId",
    "Event": "WhatId",
    "EmailMessage": "RelatedToId",
}


@dataclass
class ObjectSync:
    object: str
    mode: str  # full | incremental | skipped
    fields: dict[str, str]  # contract field -> API name actually read
    missing: list[str] = field(default_factory=list)  # contract fields the org lacks now
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
            "objects": [
                {
                    "object": o.object,
                    "mode": o.mode,
                    "records": o.records,
                    "missing_fields": o.missing,
                    "deleted_ids": len(o.deleted_ids),
                    "watermark": o.watermark.isoformat() if o.watermark else None,
                    "error": o.error,
                }
                for o in self.objects
            ],
            "import": self.imported.as_dict(),
        }


class SalesforceSync:
    def __init__(
        self,
        store: Store,
        settings: SalesforceSettings,
        *,
        actor: str = "sync",
        policy: RetryPolicy | None = None,
        client_factory: Callable[[], Salesforce] | None = None,
    ) -> None:
        self.store, self.settings, self.actor = store, settings, actor
        self.policy = policy or RetryPolicy()
        self.meter = CallMeter()
        self.stats = CallStats()
        self.session = make_session(settings.loopback, settings.timeout, self.meter)
        self.field_map = load_field_map(settings.field_map_file)
        self._factory = client_factory or (lambda: connect(self.settings, self.session))
        self._sf: Salesforce | None = None

    # ---- client ---------------------------------------------------------------------
    @property
    def sf(self) -> Salesforce:
        if self._sf is None:
            self._sf = self._call(self._factory, "login", budget=False)
        return self._sf

    def _reauth(self) -> None:
        if not self.settings.can_reauthenticate():
            raise RuntimeError("the Salesforce session expired and no credentials are configured")
        self._sf = None
        self._sf = self._call(self._factory, "login", budget=False)

    def _call(self, fn: Callable[[], T], what: str, budget: bool = True) -> T:
        if budget:
            self._check_budget(what)
        return call_with_retries(fn, self.policy, self._reauth, self.stats, what)

    def _check_budget(self, what: str) -> None:
        used, total = self.meter.used, self.meter.total
        if used is None:
            return
        allowed = min(total or self.settings.daily_budget, self.settings.daily_budget)
        if used >= allowed - self.settings.budget_reserve:
            raise RateLimited(
                f"{what}: daily API budget spent ({used}/{allowed}, "
                f"{self.settings.budget_reserve} kept in reserve)"
            )

    # ---- the sync -------------------------------------------------------------------
    def run(self, mode: str = "auto", as_of: datetime | None = None) -> SyncReport:
        """mode: auto (incremental where a watermark exists), full or incremental."""
        if mode not in ("auto", "full", "incremental"):
            raise ValueError(f"unknown sync mode {mode!r}")
        started = time.perf_counter()
        as_of = as_of or datetime.now(UTC).replace(tzinfo=None)
        try:
            with tempfile.TemporaryDirectory(prefix="dealcast-sfdc-") as spool:
                state = self._state()
                fetched = [
                    self._fetch(record, state.get(record.OBJECT), mode, Path(spool))
                    for record in RECORD_TYPES
                ]
                return self._write(fetched, mode, as_of, started, Path(spool))
        except Exception as exc:
            self.store.record_audit(
                actor=self.actor,
                action="salesforce_sync_failed",
                subject=self._subject(),
                outputs={
                    "error": str(exc),
                    "kind": type(exc).__name__,
                    "api_calls": self.meter.calls,
                },
                as_of=as_of,
            )
            raise

    def _subject(self) -> str:
        return f"salesforce:{self.settings.instance_url or self.settings.domain}"

    def _state(self) -> dict[str, dict[str, Any]]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(salesforce_sync_state)).mappings()
            return {r["object"]: dict(r) for r in rows}

    def _fields(self, record: type[SfRecord]) -> dict[str, str]:
        mapping = self.field_map.get(record.OBJECT, {})
        return {f: mapping.get(f, f) for f in record.field_names()}

    def _fetch(
        self,
        record: type[SfRecord],
        state: dict[str, Any] | None,
        mode: str,
        spool: Path,
    ) -> ObjectSync:
        obj = record.OBJECT
        fields = self._fields(record)
        now = self.meter.now()
        full = mode == "full" or state is None
        if not full and state is not None:
            full = now - state["watermark"].replace(tzinfo=UTC) > timedelta(days=REPLICATION_DAYS)
        if mode == "incremental" and state is None:
            raise ValueError(f"no watermark for {obj}: run a full sync first")
        result = ObjectSync(obj, "full" if full else "incremental", dict(fields))
        required = set(record.required_fields())
        while True:
            api = list(result.fields.values())
            if "SystemModstamp" not in api:
                api.append("SystemModstamp")
            soql = f"SELECT {', '.join(api)} FROM {obj}"
            result.watermark = self.meter.now()
            pages: list[str] | None = None
            rows: list[dict[str, Any]] = []
            try:
                if full:
                    pages = self._bulk(obj, soql)
                else:
                    assert state is not None
                    since = state["watermark"].replace(tzinfo=UTC) - timedelta(
                        seconds=self.settings.overlap_seconds
                    )
                    rows = self._rest(f"{soql} WHERE SystemModstamp > {_soql_dt(since)}")
                    result.deleted_ids = self._deleted(obj, since)
                break
            except SalesforceMalformedRequest as exc:
                match = _NO_COLUMN.search(error_message(exc))
                if not match:
                    raise
                api_name = match.group(1)
                contract = next((f for f, a in result.fields.items() if a == api_name), None)
                if contract is None:  # SystemModstamp itself: nothing to sync with
                    raise
                message = f"{obj}.{api_name} (for {contract}) is missing in Salesforce"
                log.warning("schema mismatch: %s; keeping the last known good data", message)
                result.missing.append(contract)
                del result.fields[contract]
                if contract in required:
                    result.mode, result.error = "skipped", message
                    return result
        result.path = spool / f"{obj}.csv"
        if pages is not None:
            result.records = _spool_pages(result.path, result.fields, pages)
        else:
            result.records = _spool(result.path, result.fields, rows)
        if result.missing:
            self._fill_missing(result)
        return result

    def _bulk(self, obj: str, soql: str) -> list[str]:
        """One Bulk 2.0 queryAll job (deleted rows included, as in an export); its CSV
        result pages. A failed job is retried as a whole."""
        wait = self.settings.bulk_poll_seconds

        def job() -> list[str]:
            bulk: Any = getattr(self.sf.bulk2, obj)
            return list(bulk.query_all(soql, wait=wait))

        return self._call(job, f"bulk {obj}")

    def _rest(self, soql: str) -> list[dict[str, Any]]:
        page = self._call(lambda: self.sf.query(soql, include_deleted=True), "queryAll")
        rows: list[dict[str, Any]] = list(page["records"])
        while not page["done"]:
            next_url = page["nextRecordsUrl"]

            def more(url: str = next_url) -> Any:
                return self.sf.query_more(url, identifier_is_url=True)

            page = self._call(more, "queryAll more")
            rows.extend(page["records"])
        return rows

    def _deleted(self, obj: str, since: datetime) -> list[str]:
        end = self.meter.now() + timedelta(minutes=1)
        sobject: Any = getattr(self.sf, obj)
        answer = self._call(lambda: sobject.deleted(since, end), f"deleted {obj}")
        return [str(d["id"]) for d in answer.get("deletedRecords", [])]

    def _fill_missing(self, result: ObjectSync) -> None:
        """Fields the org no longer serves keep their last stored values (and new rows
        leave them empty), so a renamed field never wipes good data."""
        assert result.path is not None
        with result.path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        table = CRM_TABLES[result.object]
        ids = [r["Id"] for r in rows]
        stored: dict[str, dict[str, Any]] = {}
        with self.store.engine.connect() as conn:
            cols = [table.c.Id, *(table.c[f] for f in result.missing)]
            for i in range(0, len(ids), 500):
                query = select(*cols).where(table.c.Id.in_(ids[i : i + 500]))
                stored.update({r["Id"]: dict(r) for r in conn.execute(query).mappings()})
        header = [*rows[0].keys(), *result.missing] if rows else ["Id", *result.missing]
        with result.path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=header, lineterminator="\n")
            writer.writeheader()
            for row in rows:
                old = stored.get(row["Id"], {})
                for f in result.missing:
                    row[f] = _csv_text(old.get(f))
                writer.writerow(row)

    # ---- writing --------------------------------------------------------------------
    def _write(
        self, fetched: list[ObjectSync], mode: str, as_of: datetime, started: float, spool: Path
    ) -> SyncReport:
        by_object = {f.object: f for f in fetched}
        mismatches = [f"{f.object}.{m}" for f in fetched for m in f.missing]
        changed: set[str] | None = (
            None if mode == "full" or any(f.mode == "full" for f in fetched) else set()
        )
        deleted = 0
        with self.store.engine.begin() as conn:
            run = ImportRun(
                conn,
                self.store,
                spool,
                self.actor,
                as_of,
                None,
                kind="salesforce",
                source=self._subject(),
            )
            reports: list[ObjectReport] = []
            for record in RECORD_TYPES:
                sync = by_object[record.OBJECT]
                if sync.path is None:
                    reports.append(
                        ObjectReport(record.OBJECT, f"salesforce:{record.OBJECT}", False)
                    )
                    continue
                report = run.ingest_file(record, sync.path, label=f"salesforce:{record.OBJECT}")
                gone = _mark_deleted(conn, record, sync.deleted_ids, run.import_id)
                report.updated += gone
                report.deleted += gone
                deleted += gone
                reports.append(report)
                if changed is not None:
                    changed.update(_changed_opportunities(conn, sync, run.import_id))
            for sync in fetched:
                if sync.mode == "skipped" or sync.watermark is None:
                    continue
                _save_state(conn, sync, run.import_id, as_of)
            watermarks = {
                f.object: f.watermark.isoformat() for f in fetched if f.watermark and f.path
            }
            outputs = {
                "mode": mode,
                "objects": {f.object: {"mode": f.mode, "records": f.records} for f in fetched},
                "api_calls": self.meter.calls,
                "api_usage": [self.meter.used, self.meter.total],
                "watermarks": watermarks,
                "mismatches": mismatches,
                "deleted": deleted,
            }
            imported = run.finish(
                reports,
                started,
                action="salesforce_sync",
                inputs_hash=audit.hash_inputs(watermarks),
                outputs=outputs,
            )
        usage = (
            (self.meter.used, self.meter.total)
            if self.meter.used is not None and self.meter.total is not None
            else None
        )
        return SyncReport(
            mode=mode,
            objects=fetched,
            api_calls=self.meter.calls,
            api_usage=usage,
            retries=self.stats.retries,
            rate_limited=self.stats.rate_limited,
            reauths=self.stats.reauths,
            seconds=time.perf_counter() - started,
            imported=imported,
            mismatches=mismatches,
            changed_opportunities=sorted(changed) if changed is not None else None,
            deleted=deleted,
        )


def sync_salesforce(
    store: Store,
    settings: SalesforceSettings | None = None,
    *,
    mode: str = "auto",
    actor: str = "sync",
    as_of: datetime | None = None,
    policy: RetryPolicy | None = None,
) -> SyncReport:
    """One sync of every contract object into `store` (see the module docstring)."""
    sync = SalesforceSync(store, settings or SalesforceSettings(), actor=actor, policy=policy)
    return sync.run(mode, as_of)


# ---- helpers ------------------------------------------------------------------------


def _soql_dt(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def _spool_pages(path: Path, fields: dict[str, str], pages: list[str]) -> int:
    """Bulk CSV pages into one export-shaped CSV: the header renamed to contract names,
    each later page's header dropped, the data copied as is."""
    contract = {api: name for name, api in fields.items()}
    count = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        for i, page in enumerate(pages):
            head, _, body = page.partition("\n")
            if i == 0:
                names = next(csv.reader([head]))
                csv.writer(handle, lineterminator="\n").writerow(
                    [contract.get(n, n) for n in names]
                )
            if body:
                handle.write(body if body.endswith("\n") else body + "\n")
            count += sum(1 for _ in csv.reader(io.StringIO(body)))
    return count


def _spool(path: Path, fields: dict[str, str], rows: list[dict[str, Any]]) -> int:
    """Write what was read as an export-shaped CSV: contract names, export value format."""
    names = list(fields)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(names)
        for row in rows:
            writer.writerow([_csv_text(row.get(fields[n])) for n in names])
    return len(rows)


def _changed_opportunities(conn: Connection, sync: ObjectSync, import_id: int) -> set[str]:
    """The opportunities whose own row, or a linked row, this import actually wrote
    (inserted, updated or marked deleted). Rows re-read unchanged (the overlap window)
    keep an older import id, so they change nothing."""
    column = OPPORTUNITY_LINKS.get(sync.object)
    if column is None or sync.path is None:
        return set()
    with sync.path.open(newline="", encoding="utf-8") as handle:
        ids = {row["Id"] for row in csv.DictReader(handle) if row.get("Id")}
    ids.update(sync.deleted_ids)
    table = CRM_TABLES[sync.object]
    wanted = sorted(ids)
    out: set[str] = set()
    for i in range(0, len(wanted), 500):
        query = select(table.c[column]).where(
            table.c.Id.in_(wanted[i : i + 500]), table.c._import_id == import_id
        )
        links: list[str | None] = list(conn.execute(query).scalars())
        out.update(v for v in links if v and v.startswith("006"))
    return out


def _mark_deleted(conn: Connection, record: type[SfRecord], ids: list[str], import_id: int) -> int:
    """Records Salesforce reports deleted: kept, flagged IsDeleted (as an export has them)."""
    if not ids:
        return 0
    table = CRM_TABLES[record.OBJECT]
    fields = record.field_names()
    rows = conn.execute(
        select(table).where(table.c.Id.in_(ids), table.c.IsDeleted.is_(False))
    ).mappings()
    updates = []
    for stored in rows:
        values = {f: stored[f] for f in fields if stored[f] is not None}
        values["IsDeleted"] = True
        rec = record.model_validate(values)
        new, digest = row_values(rec)
        new.update(_row_hash=digest, _import_id=import_id)
        updates.append(new)
    if record.OBJECT == "Contact":
        assign_canonical(conn, updates)
    for row in updates:
        conn.execute(table.update().where(table.c.Id == row["Id"]).values(**row))
    return len(updates)


def _save_state(conn: Connection, sync: ObjectSync, import_id: int, as_of: datetime) -> None:
    assert sync.watermark is not None
    values = {
        "watermark": sync.watermark.astimezone(UTC).replace(tzinfo=None),
        "synced_at": datetime.now(UTC).replace(tzinfo=None),
        "import_id": import_id,
        "mode": sync.mode,
        "fields": sync.fields if not sync.missing else _last_good(conn, sync),
    }
    exists = conn.execute(
        select(salesforce_sync_state.c.object).where(salesforce_sync_state.c.object == sync.object)
    ).first()
    if exists:
        conn.execute(
            salesforce_sync_state.update()
            .where(salesforce_sync_state.c.object == sync.object)
            .values(**values)
        )
    else:
        conn.execute(salesforce_sync_state.insert().values(object=sync.object, **values))


def _last_good(conn: Connection, sync: ObjectSync) -> dict[str, str]:
    row = conn.execute(
        select(salesforce_sync_state.c.fields).where(salesforce_sync_state.c.object == sync.object)
    ).first()
    return dict(row[0]) if row else sync.fields


# ---- staleness ----------------------------------------------------------------------


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
