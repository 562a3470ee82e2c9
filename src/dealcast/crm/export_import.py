"""Salesforce Data Export import: one transaction, bad rows quarantined, audited.

A fatal problem (missing required file or column, corrupt file) or any crash rolls the
whole import back, so the store is exactly as before; the failure itself is then audited
in a transaction of its own. Row problems (bad value, dangling required reference,
duplicate Id) send the row to the quarantine table with file, line, field and reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from dealcast.crm import audit, quality_delta
from dealcast.crm.affected import Affected, affected, invalidate
from dealcast.crm.changes import ChangeLog
from dealcast.crm.csv_source import CsvSource, ImportFatal
from dealcast.crm.dedup import assign_canonical
from dealcast.crm.quality import QualityReport, assess, count_all
from dealcast.crm.records import RECORD_TYPES, REQUIRED_OBJECTS, SfRecord
from dealcast.crm.schema import CRM_TABLES, import_run, quarantine
from dealcast.crm.store import Store
from dealcast.crm.upsert import TableWriter, row_values
from dealcast.crm.validation import TARGET_OBJECTS, KnownIds, Problem, RowValidator

CHUNK_ROWS = 5000
SAMPLE_PROBLEMS = 20

# progress(object_name, bytes_just_read, total_bytes_of_that_file)
Progress = Callable[[str, int, int], None]


@dataclass
class ObjectReport:
    object: str
    file: str
    present: bool
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    deleted: int = 0
    warnings: int = 0
    sha256: str | None = None


@dataclass
class ImportReport:
    import_id: int
    source: str
    objects: list[ObjectReport]
    quality: QualityReport
    seconds: float
    problems: list[Problem] = field(default_factory=list)  # a sample, rejected first
    warnings: list[Problem] = field(default_factory=list)  # a sample
    affected: Affected | None = None  # what the writes affect (deals to rescore, ...)

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.objects)

    @property
    def rows_written(self) -> int:
        """Rows inserted, updated or deleted (0: the store did not change)."""
        return sum(o.inserted + o.updated + o.deleted for o in self.objects)

    @property
    def quarantined(self) -> int:
        return sum(o.quarantined for o in self.objects)

    @property
    def flagged(self) -> bool:
        return self.quality.flagged

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "source": self.source,
            "rows": self.rows,
            "quarantined": self.quarantined,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second, 1),
            "flagged": self.flagged,
            "quality": self.quality.as_dict(),
            "objects": [asdict(o) for o in self.objects],
            "problems": [_problem_dict(p) for p in self.problems],
            "warnings": [_problem_dict(p) for p in self.warnings],
        }


def _problem_dict(problem: Problem) -> dict[str, Any]:
    return {k: v for k, v in asdict(problem).items() if k != "raw"}


def import_export(
    store: Store,
    folder: Path,
    *,
    actor: str,
    as_of: datetime,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a Data Export folder into `store`. Raises ImportFatal on fatal bad input."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ImportFatal(f"{folder} is not a folder")
    missing = sorted(o for o in REQUIRED_OBJECTS if not (folder / f"{o}.csv").is_file())
    if missing:
        names = ", ".join(f"{o}.csv" for o in missing)
        raise ImportFatal(f"required file(s) missing from {folder}: {names}")
    started = time.perf_counter()
    try:
        with store.engine.begin() as conn:
            run = ImportRun(conn, store, folder, actor, as_of, progress)
            report = run.execute(started)
    except Exception as exc:
        store.record_audit(
            actor=actor,
            action="import_failed",
            subject=str(folder),
            outputs={"error": str(exc), "kind": type(exc).__name__},
            as_of=as_of,
        )
        raise
    return report


class ImportRun:
    """One import inside the caller's transaction: validation, upsert, quarantine, audit.

    Shared by the Data Export import and the live Salesforce sync (which spools what it
    reads into CSVs of the same shape), so both go through exactly the same path.
    """

    def __init__(
        self,
        conn: Connection,
        store: Store,
        folder: Path,
        actor: str,
        as_of: datetime,
        progress: Progress | None,
        *,
        kind: str = "export",
        source: str | None = None,
    ) -> None:
        self.conn, self.store, self.folder, self.actor, self.as_of = (
            conn,
            store,
            folder,
            actor,
            as_of,
        )
        self.source = source or str(folder)
        self.progress = progress
        self.known = KnownIds()
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.changes = ChangeLog()  # every row written, for quality and invalidation
        self.touched_deals: set[str] = set()  # deals changed outside the contract rows
        now = datetime.now(UTC).replace(tzinfo=None)
        self.import_id = int(
            conn.execute(
                import_run.insert().values(
                    source=self.source, kind=kind, actor=actor, started_at=now, flagged=False
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        for obj in TARGET_OBJECTS:
            table = CRM_TABLES[obj]
            self.known.ids[obj].update(conn.execute(select(table.c.Id)).scalars())

    def execute(self, started: float) -> ImportReport:
        reports = [self.ingest_file(record) for record in RECORD_TYPES]
        return self.finish(reports, started)

    def finish(
        self,
        reports: list[ObjectReport],
        started: float,
        *,
        action: str = "import",
        inputs_hash: str | None = None,
        outputs: dict[str, Any] | None = None,
    ) -> ImportReport:
        """Quality, the import_run row and the audit entry, once every object is written;
        the materialised features the writes may have made wrong are dropped."""
        inputs_hash = inputs_hash or self._inputs_hash(reports)
        read = sum(r.rows for r in reports)
        rejected = sum(r.quarantined for r in reports)
        hit = affected(self.conn, self.changes)
        hit.deals |= self.touched_deals
        invalidate(self.conn, hit)
        quality, tally = self._quality(read, rejected)
        seconds = time.perf_counter() - started
        counts: dict[str, Any] = {r.object: asdict(r) for r in reports}
        counts[quality_delta.KEY] = tally
        self.conn.execute(
            import_run.update()
            .where(import_run.c.id == self.import_id)
            .values(
                finished_at=datetime.now(UTC).replace(tzinfo=None),
                inputs_hash=inputs_hash,
                counts=counts,
                quality_score=quality.score,
                flagged=quality.flagged,
            )
        )
        audit.append(
            self.conn,
            actor=self.actor,
            action=action,
            subject=self.source,
            inputs_hash=inputs_hash,
            outputs={
                "import_id": self.import_id,
                "rows": read,
                "quarantined": rejected,
                "written": {r.object: r.inserted + r.updated for r in reports},
                "quality_score": quality.score,
                "flagged": quality.flagged,
                **(outputs or {}),
            },
            as_of=self.as_of,
        )
        return ImportReport(
            import_id=self.import_id,
            source=self.source,
            objects=reports,
            quality=quality,
            seconds=seconds,
            problems=self.problems[:SAMPLE_PROBLEMS],
            warnings=self.warnings[:SAMPLE_PROBLEMS],
            affected=hit,
        )

    def _quality(self, read: int, rejected: int) -> tuple[QualityReport, dict[str, Any]]:
        """The report from the previous import's counts updated with this one's writes (a
        full recount when there are none to build on); the counts to store with it."""
        last, counts = quality_delta.baseline(self.conn, self.import_id)
        if counts is None or self.changes.overflow:
            counts = count_all(self.conn)
        else:
            counts = quality_delta.updated_counts(self.conn, counts, self.changes)
        report = assess(self.conn, self.as_of, read, rejected, counts)
        return report, quality_delta.stored_form(counts, last)

    @staticmethod
    def _inputs_hash(reports: list[ObjectReport]) -> str:
        return audit.hash_inputs({r.file: r.sha256 for r in reports if r.present})

    def ingest_file(
        self, record: type[SfRecord], path: Path | None = None, label: str | None = None
    ) -> ObjectReport:
        """Validate and write one object's CSV (default: `<folder>/<Object>.csv`); `label`
        names the file in reports and quarantine rows (default: the file name)."""
        obj = record.OBJECT
        path = path or self.folder / f"{obj}.csv"
        report = ObjectReport(object=obj, file=label or path.name, present=path.is_file())
        if not report.present:
            return report
        source = CsvSource(
            path, record.field_names(), record.required_fields(), self._on_bytes(obj, path)
        )
        validator = RowValidator(record, report.file, self.store.stages, self.known)
        writer = TableWriter(self.conn, CRM_TABLES[obj], self.import_id, self.changes)
        pending: list[dict[str, Any]] = []
        rejected: list[Problem] = []
        for row in source.rows():
            report.rows += 1
            result = validator.validate(row)
            if isinstance(result, Problem):
                rejected.append(result)
                continue
            values, digest = row_values(result)
            values["_row_hash"] = digest
            report.deleted += bool(values["IsDeleted"])
            pending.append(values)
            self.known.add(obj, result.Id)
            # Contacts are written in one go: deduplication needs all of them.
            if obj != "Contact" and len(pending) >= CHUNK_ROWS:
                writer.write(pending)
                pending = []
            if len(rejected) >= CHUNK_ROWS:
                self._quarantine(rejected)
                report.quarantined += len(rejected)
                rejected = []
        validator.finish()
        if obj == "Contact":
            assign_canonical(self.conn, pending)
        writer.write(pending)
        self._quarantine(rejected)
        report.quarantined += len(rejected)
        report.inserted, report.updated = writer.counts.inserted, writer.counts.updated
        report.unchanged = writer.counts.unchanged
        report.warnings = len(validator.warnings)
        self.warnings.extend(validator.warnings[: SAMPLE_PROBLEMS - len(self.warnings)])
        report.sha256 = source.sha256
        return report

    def _quarantine(self, problems: list[Problem]) -> None:
        if not problems:
            return
        room = SAMPLE_PROBLEMS - len(self.problems)
        self.problems.extend(problems[: max(room, 0)])
        rows = [
            {
                "import_id": self.import_id,
                "object": p.object,
                "file": p.file,
                "line": p.line,
                "record_id": p.record_id,
                "field": p.field,
                "value": p.value,
                "reason": p.reason,
                "raw": p.raw,
            }
            for p in problems
        ]
        self.conn.execute(quarantine.insert(), rows)

    def _on_bytes(self, obj: str, path: Path) -> Callable[[int], None] | None:
        if self.progress is None:
            return None
        total = path.stat().st_size
        hook = self.progress
        return lambda n: hook(obj, n, total)
