"""Row validation for imports: types (via the records), stages, duplicates, references."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dealcast.crm.csv_source import CsvRow
from dealcast.crm.records import Reference, SfRecord, object_of_id
from dealcast.crm.stages import StageConfig

# References are checked against these objects' ids (store + this import).
TARGET_OBJECTS = ("User", "Account", "Contact", "Opportunity")
STAGE_FIELDS = {"Opportunity": "StageName", "OpportunityHistory": "StageName"}


@dataclass(frozen=True)
class Problem:
    """Why a row was rejected (or, for warnings, kept but flagged)."""

    object: str
    file: str
    line: int
    field: str | None
    value: str | None
    reason: str
    record_id: str | None = None
    raw: dict[str, str] = dataclasses.field(default_factory=dict, repr=False, compare=False)


@dataclass
class KnownIds:
    """Ids of reference targets: what the store had plus what this import accepted."""

    ids: dict[str, set[str]] = dataclasses.field(
        default_factory=lambda: {o: set() for o in TARGET_OBJECTS}
    )

    def has(self, obj: str, sf_id: str) -> bool:
        return sf_id in self.ids.get(obj, ())

    def add(self, obj: str, sf_id: str) -> None:
        if obj in self.ids:
            self.ids[obj].add(sf_id)


class RowValidator:
    """Validates the rows of one file, in order. Not thread-safe; one per file."""

    def __init__(
        self, record: type[SfRecord], file: str, stages: StageConfig, known: KnownIds
    ) -> None:
        self.record, self.file, self.stages, self.known = record, file, stages, known
        self.obj = record.OBJECT
        self.first_line: dict[str, int] = {}
        self.deferred: list[tuple[CsvRow, Reference, str]] = []  # self-references
        self.warnings: list[Problem] = []

    def problem(self, row: CsvRow, fld: str | None, reason: str) -> Problem:
        value = row.raw.get(fld) if fld else None
        return Problem(
            self.obj, self.file, row.line, fld, value, reason, row.raw.get("Id"), row.raw
        )

    def validate(self, row: CsvRow) -> SfRecord | Problem:
        if row.error:
            return self.problem(row, None, row.error)
        try:
            rec = self.record.model_validate(row.values)
        except ValidationError as exc:
            err = exc.errors()[0]
            fld = str(err["loc"][0]) if err["loc"] else None
            return self.problem(row, fld, _plain(err))
        stage_field = STAGE_FIELDS.get(self.obj)
        if stage_field and not self.stages.knows(getattr(rec, stage_field)):
            reason = (
                f"unknown stage {getattr(rec, stage_field)!r}; valid stages: "
                f"{', '.join(self.stages.names)} (map custom stages with DEALCAST_STAGES_FILE)"
            )
            return self.problem(row, stage_field, reason)
        if rec.Id in self.first_line:
            return self.problem(
                row, "Id", f"duplicate Id (first seen on line {self.first_line[rec.Id]})"
            )
        bad = self._references(row, rec)
        if bad:
            return bad
        self.first_line[rec.Id] = row.line
        self._consistency(row, rec)
        return rec

    def _references(self, row: CsvRow, rec: SfRecord) -> Problem | None:
        for ref in rec.REFERENCES:
            value = getattr(rec, ref.field)
            if value is None:
                continue
            target = object_of_id(value)
            if target not in ref.targets:
                if ref.required:
                    expected = " or ".join(ref.targets)
                    return self.problem(row, ref.field, f"does not point at a {expected} record")
                continue  # an object we do not import (a Lead, a Case): not ours to check
            if target == self.obj:
                self.deferred.append((row, ref, value))
            elif not self.known.has(target, value):
                if ref.required:
                    return self.problem(row, ref.field, f"no {target} with Id {value}")
                self.warnings.append(self.problem(row, ref.field, f"no {target} with Id {value}"))
        return None

    def _consistency(self, row: CsvRow, rec: Any) -> None:
        if self.obj != "Opportunity":
            return
        stage = self.stages.get(rec.StageName)
        for fld, expected in (("IsClosed", stage.is_closed), ("IsWon", stage.is_won)):
            actual = getattr(rec, fld)
            if actual is not None and actual != expected:
                reason = f"{fld}={actual} contradicts stage {rec.StageName!r}; the stage wins"
                self.warnings.append(self.problem(row, fld, reason))

    def finish(self) -> None:
        """Check references to rows of the same file (e.g. User.ManagerId) once all are read."""
        for row, ref, value in self.deferred:
            if not self.known.has(self.obj, value):
                self.warnings.append(self.problem(row, ref.field, f"no {self.obj} with Id {value}"))
        self.deferred.clear()


def _plain(err: Any) -> str:
    if err["type"] == "missing":
        return "required value is missing or empty"
    msg = str(err["msg"])
    return msg.removeprefix("Value error, ")
