"""Reading one export CSV: RFC 4180, UTF-8 (BOM tolerated), physical line numbers, sha256.

Structural problems (not UTF-8, broken quoting, missing header or required columns) are
fatal: the file cannot be trusted, so the whole import is rolled back. A row with the wrong
number of fields is a row problem and is quarantined like any other bad row.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

# Email bodies can be long; the csv module's default limit (128 KiB) is not enough.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class ImportFatal(ValueError):
    """Bad input that makes the whole import fail (and roll back)."""

    def __init__(
        self,
        message: str,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message, self.file, self.line, self.field = message, file, line, field
        where = ", ".join(
            part
            for part in (
                file,
                f"line {line}" if line else None,
                f"field {field}" if field else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class CsvRow:
    line: int  # physical line where the record starts (the header is line 1)
    values: dict[str, str]  # known, non-empty fields only
    raw: dict[str, str]  # every column as read, for the quarantine table
    error: str | None = None  # a structural row problem (wrong field count)


class _Hashing(io.RawIOBase):
    """Wraps a binary file: hashes and counts every byte read (for progress)."""

    def __init__(self, raw: io.BufferedReader, on_bytes: Callable[[int], None] | None) -> None:
        self._raw, self._on_bytes = raw, on_bytes
        self.sha256 = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self._raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.sha256.update(data)
        if self._on_bytes and n:
            self._on_bytes(n)
        return n


class CsvSource:
    def __init__(
        self,
        path: Path,
        fields: list[str],
        required: list[str],
        on_bytes: Callable[[int], None] | None = None,
    ) -> None:
        self.path, self.fields, self.required, self.on_bytes = path, fields, required, on_bytes
        self.sha256 = ""
        self.header: list[str] = []

    @property
    def size(self) -> int:
        return self.path.stat().st_size

    def rows(self) -> Iterator[CsvRow]:
        name = self.path.name
        with self.path.open("rb") as binary:
            hashing = _Hashing(binary, self.on_bytes)
            reader = csv.reader(self._lines(io.BufferedReader(hashing, 1 << 20)), strict=True)
            line = 1
            try:
                self.header = next(reader, [])
                self._check_header(name)
                index = {col: i for i, col in enumerate(self.header)}
                known = [(f, index.get(f)) for f in self.fields]
                width = len(self.header)
                for record in reader:
                    start, line = line + 1, reader.line_num
                    if not record:
                        continue  # a blank line is not a record
                    raw = dict(zip(self.header, record, strict=False))
                    if len(record) != width:
                        error = f"expected {width} fields, found {len(record)}"
                        yield CsvRow(start, {}, raw, error)
                        continue
                    # Empty and absent fields are left out, so the record's defaults apply.
                    values = {f: record[i] for f, i in known if i is not None and record[i]}
                    yield CsvRow(start, values, raw)
            except csv.Error as exc:
                raise ImportFatal(f"malformed CSV: {exc}", name, reader.line_num) from exc
            self.sha256 = hashing.sha256.hexdigest()

    def _lines(self, binary: io.BufferedReader) -> Iterator[str]:
        """Decode line by line, so a bad byte is reported on its own physical line."""
        for number, raw in enumerate(binary, start=1):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ImportFatal(
                    f"not valid UTF-8 ({exc.reason} at column {exc.start + 1})",
                    self.path.name,
                    number,
                ) from exc

    def _check_header(self, name: str) -> None:
        if not self.header:
            raise ImportFatal("the file is empty (no header row)", name, 1)
        duplicates = sorted({c for c in self.header if self.header.count(c) > 1})
        if duplicates:
            raise ImportFatal(f"duplicate columns {duplicates}", name, 1)
        for field in self.required:
            if field not in self.header:
                raise ImportFatal("required column is missing", name, 1, field)
