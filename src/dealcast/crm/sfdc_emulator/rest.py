"""The REST and Bulk API 2.0 resources under /services/data/vXX.X/ (no HTTP here)."""

from __future__ import annotations

import csv
import io
import itertools
import json
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from dealcast.crm.sfdc_emulator.data import OrgData, csv_formatter, json_value, parse_datetime
from dealcast.crm.sfdc_emulator.soql import Query, SoqlError, parse


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = "application/json;charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(payload).encode())


@dataclass
class _Cursor:
    rows: list[dict[str, Any]]


@dataclass
class _Job:
    id: str
    operation: str
    query: Query
    rows: list[dict[str, Any]]
    created: datetime
    polls_left: int
    state: str = "UploadComplete"


_ids = itertools.count(1)


class RestApi:
    def __init__(
        self, data: OrgData, version: str, page_size: int, bulk_polls: int, bulk_page_size: int
    ) -> None:
        self.data, self.version, self.page_size = data, version, page_size
        self.bulk_polls, self.bulk_page_size = bulk_polls, bulk_page_size
        self.cursors: dict[str, _Cursor] = {}
        self.jobs: dict[str, _Job] = {}
        self.lock = threading.Lock()

    # ---- dispatch -------------------------------------------------------------------
    def handle(
        self, method: str, rest: str, query: str, body: bytes, usage: tuple[int, int]
    ) -> Response:
        parts = [p for p in rest.split("/") if p]
        params = {k: v[0] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if method == "GET" and parts == ["limits"]:
            used, total = usage
            return json_response(
                {
                    "DailyApiRequests": {"Max": total, "Remaining": max(total - used, 0)},
                    "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000 - len(self.jobs)},
                    "DailyBulkV2QueryFileStorageMB": {"Max": 976562, "Remaining": 976562},
                }
            )
        if method == "GET" and parts and parts[0] in ("query", "queryAll"):
            include_deleted = parts[0] == "queryAll"
            if len(parts) == 2:
                return self._more(parts[1])
            if len(parts) == 1:
                return self._query(params.get("q", ""), include_deleted)
        if parts[:1] == ["sobjects"]:
            return self._sobjects(method, parts[1:], params)
        if parts[:2] == ["jobs", "query"]:
            return self._jobs(method, parts[2:], params, body)
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    # ---- SOQL over REST -------------------------------------------------------------
    def _parse(self, soql: str) -> Query:
        try:
            return parse(soql, self.data)
        except SoqlError as exc:
            raise ApiError(400, exc.code, exc.message) from exc

    def _query(self, soql: str, include_deleted: bool) -> Response:
        with self.data.lock:
            q = self._parse(soql)
            rows = [self._json_record(q, r) for r in q.run(include_deleted)]
        return self._page(rows, 0, None)

    def _json_record(self, q: Query, rec: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attributes": {
                "type": q.object,
                "url": f"/services/data/v{self.version}/sobjects/{q.object}/{rec['Id']}",
            }
        }
        for f in q.fields:
            out[f] = json_value(q.table.kinds[f], rec.get(f))
        return out

    def _page(self, rows: list[dict[str, Any]], start: int, cursor: str | None) -> Response:
        end = start + self.page_size
        payload: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows)}
        if end < len(rows):
            if cursor is None:
                cursor = f"01gE{next(_ids):011d}AAA"
                with self.lock:
                    self.cursors[cursor] = _Cursor(rows)
            payload["nextRecordsUrl"] = f"/services/data/v{self.version}/query/{cursor}-{end}"
        elif cursor is not None:
            with self.lock:
                self.cursors.pop(cursor, None)
        payload["records"] = rows[start:end]
        return json_response(payload)

    def _more(self, locator: str) -> Response:
        cursor, _, offset = locator.rpartition("-")
        with self.lock:
            found = self.cursors.get(cursor)
        if found is None or not offset.isdigit():
            raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(found.rows, int(offset), cursor)

    # ---- sobjects -------------------------------------------------------------------
    def _sobjects(self, method: str, parts: list[str], params: dict[str, str]) -> Response:
        if method != "GET":
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")
        if not parts:
            return json_response(
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": 200,
                    "sobjects": [
                        {"name": n, "queryable": True, "replicateable": True}
                        for n in self.data.tables
                    ],
                }
            )
        table = self.data.table(parts[0])
        if table is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        rest = parts[1:]
        if rest in ([], ["describe"]):
            return json_response(
                {
                    "name": table.name,
                    "queryable": True,
                    "replicateable": True,
                    "fields": [
                        {"name": f, "type": _describe_type(table.kinds[f]), "nillable": True}
                        for f in table.fields
                    ],
                }
            )
        if rest == ["updated"] or rest == ["deleted"]:
            start, end = _window(params)
            with self.data.lock:
                if rest == ["updated"]:
                    ids = [
                        i
                        for i, r in table.records.items()
                        if not r.get("IsDeleted") and start <= r["SystemModstamp"] <= end
                    ]
                    return json_response({"ids": ids, "latestDateCovered": _iso(end)})
                gone = [d for d in self.data.deletions[table.name] if start <= d.deleted <= end]
            return json_response(
                {
                    "deletedRecords": [{"id": d.id, "deletedDate": _iso(d.deleted)} for d in gone],
                    "earliestDateAvailable": _iso(datetime.now(UTC) - timedelta(days=30)),
                    "latestDateCovered": _iso(end),
                }
            )
        if len(rest) == 1:
            with self.data.lock:
                rec = table.records.get(rest[0])
                if rec is None or rec.get("IsDeleted"):
                    raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
                out = {f: json_value(table.kinds[f], rec.get(f)) for f in table.fields}
            return json_response({"attributes": {"type": table.name}, **out})
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    # ---- Bulk API 2.0 query jobs ----------------------------------------------------
    def _jobs(self, method: str, parts: list[str], params: dict[str, str], body: bytes) -> Response:
        if method == "POST" and not parts:
            return self._create_job(body)
        if not parts:
            raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")
        with self.lock:
            job = self.jobs.get(parts[0])
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if parts[1:] == ["results"] and method == "GET":
            return self._results(job, params)
        if parts[1:]:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if method == "GET":
            if job.state in ("UploadComplete", "InProgress"):
                if job.polls_left > 0:
                    job.polls_left -= 1
                    job.state = "InProgress"
                else:
                    job.state = "JobComplete"
            return json_response(self._job_info(job))
        if method == "PATCH":
            job.state = str(json.loads(body or b"{}").get("state", job.state))
            return json_response(self._job_info(job))
        if method == "DELETE":
            with self.lock:
                self.jobs.pop(job.id, None)
            return Response(204, b"")
        raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed.")

    def _create_job(self, body: bytes) -> Response:
        try:
            spec = json.loads(body or b"{}")
        except ValueError as exc:
            raise ApiError(400, "JSON_PARSER_ERROR", f"invalid JSON: {exc}") from exc
        operation = spec.get("operation")
        if operation not in ("query", "queryAll"):
            raise ApiError(400, "INVALIDJOB", f"Invalid operation: {operation}")
        if spec.get("columnDelimiter", "COMMA") != "COMMA" or spec.get("lineEnding", "LF") != "LF":
            raise ApiError(400, "INVALIDJOB", "the emulator supports COMMA and LF only")
        with self.data.lock:
            try:
                q = parse(spec.get("query") or "", self.data)
            except SoqlError as exc:
                raise ApiError(400, "INVALIDJOB", f"{exc.code}: {exc.message}") from exc
            rows = q.run(operation == "queryAll")  # the records as they are now
        job = _Job(
            id=f"750E{next(_ids):011d}AAA",
            operation=operation,
            query=q,
            rows=rows,
            created=datetime.now(UTC),
            polls_left=self.bulk_polls,
        )
        with self.lock:
            self.jobs[job.id] = job
        return json_response(self._job_info(job))

    def _job_info(self, job: _Job) -> dict[str, Any]:
        done = job.state == "JobComplete"
        return {
            "id": job.id,
            "operation": job.operation,
            "object": job.query.object,
            "createdById": "005E0000000SyncUAA",
            "createdDate": _iso(job.created),
            "systemModstamp": _iso(job.created),
            "state": job.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.version),
            "jobType": "V2Query",
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
            "numberRecordsProcessed": len(job.rows) if done else 0,
            "retries": 0,
            "totalProcessingTime": 1 if done else 0,
        }

    def _results(self, job: _Job, params: dict[str, str]) -> Response:
        if job.state != "JobComplete":
            raise ApiError(400, "INVALIDJOBSTATE", f"Job {job.id} is not complete: {job.state}")
        locator = params.get("locator") or "0"
        if not locator.isdigit():
            raise ApiError(400, "INVALIDLOCATOR", f"invalid locator: {locator}")
        size = min(int(params.get("maxRecords") or self.bulk_page_size), self.bulk_page_size)
        start = int(locator)
        page = job.rows[start : start + size]
        columns = [(f, csv_formatter(job.query.table.kinds[f])) for f in job.query.fields]
        out = io.StringIO()
        writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(job.query.fields)
        writer.writerows([fmt(r.get(f)) for f, fmt in columns] for r in page)
        nxt = start + size
        return Response(
            200,
            out.getvalue().encode(),
            "text/csv",
            {
                "Sforce-Locator": str(nxt) if nxt < len(job.rows) else "null",
                "Sforce-NumberOfRecords": str(len(page)),
            },
        )


def _describe_type(kind: str) -> str:
    return {
        "id": "reference",
        "string": "string",
        "bool": "boolean",
        "int": "int",
        "float": "double",
        "date": "date",
        "datetime": "datetime",
    }[kind]


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def _window(params: dict[str, str]) -> tuple[datetime, datetime]:
    try:
        start_text, end_text = params["start"], params["end"]
        for text in (start_text, end_text):
            if not (text.endswith("Z") or text[-6:-5] in "+-" or text[-5:-4] in "+-"):
                raise ValueError("no time zone")
        start, end = parse_datetime(start_text), parse_datetime(end_text)
    except (KeyError, ValueError) as exc:
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            "start and end must be ISO 8601 date-times with a time zone",
        ) from exc
    if end < start:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "end date is before start date")
    if start < datetime.now(UTC) - timedelta(days=30):
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate cannot be more than 30 days ago",
        )
    return start, end
