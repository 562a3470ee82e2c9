"""Live Salesforce sync with simple-salesforce: Bulk 2.0 for full reads, SystemModstamp
watermarks (with an overlap window) over REST `queryAll` plus `sobjects/<O>/deleted` for
increments.

Everything read is spooled into CSVs shaped like a Data Export and written through the
export import's own path (`ImportRun`: validation, upsert by content hash, quarantine,
quality, audit), in ONE transaction together with the new watermarks. A crash anywhere
leaves the last committed watermarks, and the overlap plus content-hash upserts make a
re-run idempotent.

Modules: `salesforce_sync_report` (what a sync did), `salesforce_sync_spool` (reads ->
export-shaped CSVs), `salesforce_sync_store` (deletions, watermarks), `affected` (changed deals),
`salesforce_sync_freshness` (staleness), `salesforce_sync_http` (retries, rate limits),
`salesforce_sync_config` (settings, auth, field mapping).
"""

from __future__ import annotations

import logging
import re
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceMalformedRequest
from sqlalchemy import select

from dealcast.crm import audit, custom_fields
from dealcast.crm.export_import import ImportRun, ObjectReport
from dealcast.crm.records import RECORD_TYPES, SfRecord
from dealcast.crm.salesforce_sync_config import (
    SalesforceSettings,
    connect,
    load_custom_map,
    load_field_map,
)
from dealcast.crm.salesforce_sync_freshness import Freshness, freshness
from dealcast.crm.salesforce_sync_http import (
    CallMeter,
    CallStats,
    RateLimited,
    RetryPolicy,
    call_with_retries,
    error_message,
    make_session,
)
from dealcast.crm.salesforce_sync_report import ObjectSync, SyncReport
from dealcast.crm.salesforce_sync_spool import fill_missing, soql_datetime, spool_pages, spool_rows
from dealcast.crm.salesforce_sync_store import custom_deals, mark_deleted, save_state
from dealcast.crm.schema import salesforce_sync_state
from dealcast.crm.store import Store

__all__ = [
    "Freshness",
    "ObjectSync",
    "SalesforceSync",
    "SyncReport",
    "freshness",
    "sync_salesforce",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
_NO_COLUMN = re.compile(r"No such column '(\w+)'")
REPLICATION_DAYS = 29  # sobjects/<O>/deleted only reaches 30 days back


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
        self.custom_map = load_custom_map(settings.field_map_file)
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
        fields = {f: mapping.get(f, f) for f in record.field_names()}
        extra = custom_fields.query_fields(self.custom_map.get(record.OBJECT, {}))
        return {**fields, **{k: v for k, v in extra.items() if k not in fields}}

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
                    rows = self._rest(f"{soql} WHERE SystemModstamp > {soql_datetime(since)}")
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
                if contract not in record.model_fields:  # custom: its stored values stay
                    log.warning("schema mismatch: custom field %s.%s is missing", obj, api_name)
                    result.missing_custom.append(api_name)
                    del result.fields[contract]
                    continue
                message = f"{obj}.{api_name} (for {contract}) is missing in Salesforce"
                log.warning("schema mismatch: %s; keeping the last known good data", message)
                result.missing.append(contract)
                del result.fields[contract]
                if contract in required:
                    result.mode, result.error = "skipped", message
                    return result
        result.path = spool / f"{obj}.csv"
        if pages is not None:
            result.records = spool_pages(result.path, result.fields, pages)
        else:
            result.records = spool_rows(result.path, result.fields, rows)
        if result.missing:
            fill_missing(self.store, result)
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

    def _write(
        self, fetched: list[ObjectSync], mode: str, as_of: datetime, started: float, spool: Path
    ) -> SyncReport:
        by_object = {f.object: f for f in fetched}
        mismatches = [f"{f.object}.{m}" for f in fetched for m in [*f.missing, *f.missing_custom]]
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
                custom_fields.save_values(conn, record.OBJECT, sync.path, run.import_id)
                gone = mark_deleted(conn, record, sync.deleted_ids, run.import_id, run.changes)
                report.updated += gone
                report.deleted += gone
                deleted += gone
                reports.append(report)
            # a deal whose mapped custom fields alone changed is changed too (its features)
            run.touched_deals |= custom_deals(conn, run.import_id)
            for sync in fetched:
                if sync.mode == "skipped" or sync.watermark is None:
                    continue
                save_state(conn, sync, run.import_id, as_of)
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
        hit = imported.affected
        if changed is not None and hit is not None:
            changed.update(hit.deals)
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
            people_changed=changed is None or (hit is not None and hit.people),
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
