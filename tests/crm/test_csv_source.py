from __future__ import annotations

from pathlib import Path

import pytest

from dealcast.crm.csv_source import CsvSource, ImportFatal


def _source(path: Path, required: list[str] | None = None) -> CsvSource:
    return CsvSource(path, ["Id", "Name", "Body"], required or ["Id"])


def test_lines_are_physical_even_with_multiline_quoted_fields(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_bytes(
        b'Id,Name,Body\r\n1,a,"line one\r\nline two"\r\n2,"b, with comma","say ""hi"""\r\n'
        b"\r\n3,c,\r\n"
    )
    rows = list(_source(path).rows())
    assert [r.line for r in rows] == [2, 4, 6]
    assert rows[0].values["Body"] == "line one\r\nline two"
    assert rows[1].values == {"Id": "2", "Name": "b, with comma", "Body": 'say "hi"'}
    assert rows[2].values == {"Id": "3", "Name": "c"}  # empty fields are left out


def test_bom_is_tolerated_and_hash_covers_every_byte(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_bytes(b"\xef\xbb\xbfId,Name\n1,a\n")
    source = _source(path)
    seen: list[int] = []
    source.on_bytes = seen.append
    assert [r.values for r in source.rows()] == [{"Id": "1", "Name": "a"}]
    assert len(source.sha256) == 64 and sum(seen) == path.stat().st_size


def test_wrong_field_count_is_a_row_problem(tmp_path: Path) -> None:
    path = tmp_path / "X.csv"
    path.write_text("Id,Name\n1,a,extra\n2,b\n", encoding="utf-8")
    rows = list(_source(path).rows())
    assert rows[0].error == "expected 2 fields, found 3" and rows[1].error is None


@pytest.mark.parametrize(
    ("content", "line", "message"),
    [
        (b"", 1, "empty"),
        (b"Name\n1\n", 1, "required column"),
        (b"Id,Id\n1,2\n", 1, "duplicate columns"),
        (b"Id,Name\n1,a\n2,\xff\n", 3, "UTF-8"),
        (b'Id,Name\n1,"a"b\n', 2, "malformed CSV"),
    ],
)
def test_structural_problems_are_fatal_with_line(
    tmp_path: Path, content: bytes, line: int, message: str
) -> None:
    path = tmp_path / "X.csv"
    path.write_bytes(content)
    with pytest.raises(ImportFatal, match=message) as info:
        list(_source(path).rows())
    assert info.value.file == "X.csv" and info.value.line == line
