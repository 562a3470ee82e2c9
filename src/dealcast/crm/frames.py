"""Read store tables into pandas frames with consistent dtypes.

Every date and datetime column comes back as `datetime64[ns]` (dates at midnight), ids
and text as object/str, numbers as float, booleans as bool, so the feature code can stay
vectorised and does not care which database it ran on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from sqlalchemy import Boolean, Connection, Date, DateTime, Float, Integer, Select, Table

# SQLite allows 32766 bound parameters; stay well below it for IN lists.
IN_CHUNK = 900


def read_frame(conn: Connection, table: Table, query: Select[Any]) -> pd.DataFrame:
    result = conn.execute(query)
    columns = list(result.keys())
    rows = result.fetchall()
    # Column-wise construction: pandas inspects every row object otherwise (slow).
    data = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    frame = pd.DataFrame({c: pd.Series(list(v)) for c, v in zip(columns, data, strict=True)})
    return coerce(frame, table)


def coerce(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    for name in frame.columns:
        if name not in table.c:
            continue
        col_type = table.c[name].type
        if isinstance(col_type, DateTime | Date):
            frame[name] = pd.to_datetime(frame[name], errors="raise").astype("datetime64[ns]")
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
