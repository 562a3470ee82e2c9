"""Read store tables into pandas frames with consistent dtypes.

Every date and datetime column comes back as `datetime64[ns]` (dates at midnight), ids
and text as object/str, numbers as float, booleans as bool, so the feature code can stay
vectorised and does not care which database it ran on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    Select,
    String,
    Table,
    type_coerce,
)
from sqlalchemy.sql.expression import Executable

# SQLite allows 32766 bound parameters; stay well below it for IN lists.
IN_CHUNK = 900


def read_frame(conn: Connection, table: Table, query: Select[Any]) -> pd.DataFrame:
    raw = conn.dialect.name == "sqlite"
    columns, rows = fetch_rows(conn, _raw_dates(query) if raw else query)
    # Through one 2-D object array, column by column: pandas inspects every row object
    # otherwise (slow); each column then infers its dtype as a Series of its values would.
    values = np.array(rows, dtype=object) if rows else np.empty((0, len(columns)), object)
    values = values.reshape(len(rows), len(columns))
    frame = pd.DataFrame({c: pd.Series(values[:, i]) for i, c in enumerate(columns)})
    return coerce(frame, table)


def fetch_rows(conn: Connection, query: Executable) -> tuple[list[str], Sequence[Any]]:
    """Column names and rows. On SQLite, the driver's rows as they are: SQLAlchemy's
    per-value processing (0/1 -> bool, text -> datetime) costs more than the read; callers
    convert per column (`coerce`)."""
    result = conn.execute(query)
    columns = list(result.keys())
    if conn.dialect.name == "sqlite" and result.cursor is not None:
        rows = result.cursor.fetchall()
        result.close()
        return columns, rows
    return columns, result.fetchall()


def _raw_dates(query: Select[Any]) -> Select[Any]:
    """SQLite stores dates as ISO text; SQLAlchemy parses them one value at a time in Python
    (about 2/3 of a narrow read's cost). Fetch the text instead: `coerce` parses each column
    at once."""
    columns = [
        type_coerce(c, String).label(c.name) if isinstance(c.type, DateTime | Date) else c
        for c in query.selected_columns
    ]
    return query.with_only_columns(*columns)


def coerce(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    for name in frame.columns:
        if name not in table.c:
            continue
        col_type = table.c[name].type
        if isinstance(col_type, DateTime | Date):
            frame[name] = datetimes(frame[name])
        elif isinstance(col_type, Boolean):
            frame[name] = frame[name].fillna(False).astype(bool)
        elif isinstance(col_type, Float | Integer):
            frame[name] = pd.to_numeric(frame[name], errors="raise").astype(float)
    return frame


def read_in_chunks(
    conn: Connection,
    table: Table,
    query: Select[Any],
    column: str,
    ids: Iterable[str] | None,
) -> pd.DataFrame:
    """`query` restricted to rows whose `column` is in `ids` (all rows when ids is None)."""
    if ids is None:
        return read_frame(conn, table, query)
    id_list: Sequence[str] = sorted(set(ids))
    parts = [
        read_frame(conn, table, query.where(table.c[column].in_(id_list[i : i + IN_CHUNK])))
        for i in range(0, len(id_list), IN_CHUNK)
    ]
    if not parts:
        return read_frame(conn, table, query.where(table.c[column].in_([])))
    return pd.concat(parts, ignore_index=True)


def datetimes(values: pd.Series) -> pd.Series:
    first = values.first_valid_index()
    if values.dtype == object and first is not None and isinstance(values[first], str):
        # ISO text (SQLite), with or without a time part and fractional seconds
        return pd.to_datetime(values, format="ISO8601", errors="raise").astype("datetime64[ns]")
    return pd.to_datetime(values, errors="raise").astype("datetime64[ns]")
