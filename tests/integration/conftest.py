"""PostgreSQL fixtures: every test gets its own schema in the `test` database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from dealcast.crm.store import Store

PG_DSN = os.environ.get(
    "DEALCAST_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
PG_URL = os.environ.get("DEALCAST_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _require_postgres() -> None:
    try:
        psycopg.connect(PG_DSN, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        message = f"PostgreSQL is unreachable at {PG_DSN}: {exc}"
        if os.environ.get("CI") or os.environ.get("DEALCAST_REQUIRE_SERVICES"):
            pytest.fail(message + " (CI must run the Postgres suite; .ci/run starts it)")
        pytest.skip(message)


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A database URL whose search_path is a fresh, private schema (dropped afterwards)."""
    _require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def store(pg_url: str) -> Iterator[Store]:
    s = Store.open(pg_url)
    yield s
    s.close()
