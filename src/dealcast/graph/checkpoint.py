"""Checkpointers: AsyncSqliteSaver by default, AsyncPostgresSaver for PostgreSQL URLs.

    async with open_checkpointer(url) as saver:
        graph = build_graph().compile(checkpointer=saver)

`url` is a SQLAlchemy-style database URL (`sqlite:///path.db`, `postgresql+psycopg://...`)
or a plain path to an SQLite file. Threads are keyed by `thread_id` in the run config.

On PostgreSQL the saver runs on a small connection pool that checks a connection before
handing it out, so a dropped connection (database restart, proxy or idle timeout) is
replaced instead of failing every later turn; its connections are named `CHECKPOINT_APP`
(`application_name`, visible in pg_stat_activity).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.base import BaseCheckpointSaver

CHECKPOINT_APP = "dealcast-checkpoints"
POOL_MAX = 4  # the saver serialises its queries (one lock): a few connections are plenty


def _postgres_dsn(url: str) -> str | None:
    for prefix in (
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
        "postgres://",
        "postgresql://",
    ):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return None


def _sqlite_path(url: str) -> str:
    if url.startswith("sqlite:///"):
        return url[len("sqlite:///") :]
    if url.startswith("sqlite://"):
        return ":memory:"
    if "://" in url:
        raise ValueError(
            f"unsupported checkpoint database {url.split('://')[0]!r}; use sqlite:///PATH, "
            "a file path or postgresql+psycopg://USER@HOST/DB"
        )
    return url


@asynccontextmanager
async def open_checkpointer(url: str) -> AsyncIterator[BaseCheckpointSaver[str]]:
    dsn = _postgres_dsn(url)
    if dsn is not None:
        from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
        from psycopg import AsyncConnection
        from psycopg.rows import DictRow, dict_row
        from psycopg_pool import AsyncConnectionPool

        kwargs = {  # what AsyncPostgresSaver.from_conn_string sets on its one connection
            "autocommit": True,
            "prepare_threshold": 0,
            "row_factory": dict_row,
            "application_name": CHECKPOINT_APP,
        }
        pool = AsyncConnectionPool[AsyncConnection[DictRow]](
            dsn,
            connection_class=AsyncConnection[DictRow],
            min_size=1,
            max_size=POOL_MAX,
            kwargs=kwargs,
            check=AsyncConnectionPool.check_connection,
            open=False,
        )
        async with pool:
            pg_saver = AsyncPostgresSaver(pool)
            await pg_saver.setup()
            yield pg_saver
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = _sqlite_path(url)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(path) as saver:
        await saver.setup()
        yield saver
