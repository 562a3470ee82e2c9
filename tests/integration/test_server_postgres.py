"""The chat server on PostgreSQL (DEALCAST_DATABASE_URL), its threads in AsyncPostgresSaver:
a multi-turn thread that survives a restart, human review decided after a restart, an
unfinished turn resumed after a restart, and a real `dealcast serve` process smoke test.
Each module run gets a private schema (see conftest.py; DEALCAST_REQUIRE_SERVICES=1 fails
instead of skipping when PostgreSQL is down)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from dealcast.config import Settings, get_settings
from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from dealcast.graph.checkpoint import CHECKPOINT_APP
from dealcast.server import create_app
from tests.demo_org import AS_OF, DemoOrg
from tests.integration.chat_helpers import callers, counts, cut_short
from tests.integration.conftest import PG_DSN, PG_URL, _require_postgres
from tests.integration.serve_process import ServerProcess

DAY = AS_OF.date().isoformat()
KEY = {who: f"pg-chat-key-{who}-0123456789" for who in ("rep", "rep2", "top")}


def h(who: str) -> dict[str, str]:
    return {"X-API-Key": KEY[who]}


@dataclass
class PgOrg:
    url: str
    schema: str
    store: Store
    tmp: Path
    keys: dict[str, dict[str, str]]
    rep: str
    deal: str  # one of the rep's open deals

    def client(self) -> TestClient:
        """A fresh app (its own store, checkpointer and graph): a server restart."""
        settings = Settings(data_dir=self.tmp, chat_review_interrupt=True)
        assert settings.database_url == self.url  # from DEALCAST_DATABASE_URL
        return TestClient(create_app(settings, api_keys=self.keys))

    def checkpoints(self, thread_id: str) -> int:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            row = conn.execute(
                "SELECT count(*) FROM checkpoints WHERE thread_id = %s", (thread_id,)
            ).fetchone()
        return int(row[0]) if row else 0


@pytest.fixture(scope="module")
def pg(demo_org: DemoOrg, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgOrg]:
    _require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?options=-csearch_path%3D{schema}"
    store = Store.open(url)
    mp = pytest.MonkeyPatch()
    try:
        import_export(store, demo_org.folder, actor="test", as_of=AS_OF)
        deals = store.as_of(AS_OF).open_opportunities()
        who = callers(store, AS_OF)
        rep, rep2, top = who["rep"], who["rep2"], who["top"]
        keys = {
            KEY["rep"]: {"user_id": rep, "role": "rep"},
            KEY["rep2"]: {"user_id": rep2, "role": "rep"},
            KEY["top"]: {"user_id": top, "role": "manager"},
        }
        mp.setenv("DEALCAST_DATABASE_URL", url)
        get_settings.cache_clear()
        deal = str(deals[deals["OwnerId"] == rep]["Id"].iloc[0])
        yield PgOrg(url, schema, store, tmp_path_factory.mktemp("pg-chat"), keys, rep, deal)
    finally:
        mp.undo()
        get_settings.cache_clear()
        store.close()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def messages(client: TestClient, tid: str, who: str = "rep") -> list[tuple[str, str]]:
    r = client.get(f"/v1/threads/{tid}", headers=h(who))
    assert r.status_code == 200, r.text
    return [(m["role"], m["content"]) for m in r.json()["messages"]]


def ask(client: TestClient, tid: str, text: str) -> dict:
    body = {"message": text, "thread_id": tid, "as_of": DAY}
    r = client.post("/v1/chat", json=body, headers=h("rep"))
    assert r.status_code == 200, r.text
    return r.json()


def test_multi_turn_thread_survives_a_restart(pg: PgOrg) -> None:
    tid = "pg-thread"
    with pg.client() as c:
        fresh = ask(c, tid, "is the data fresh?")
        listed = ask(c, tid, "show my deals")
        assert fresh["status"] == listed["status"] == "done"
        assert listed["data"]["deals"] and {d["owner_id"] for d in listed["data"]["deals"]} == {
            pg.rep
        }
        before = messages(c, tid)
    assert pg.checkpoints(tid) > 0  # in PostgreSQL, not in a file beside a database
    assert not list(pg.tmp.glob("*.threads.db"))
    assert [m[0] for m in before] == ["user", "assistant"] * 2
    with pg.client() as c:  # restarted: the thread is all there and carries on
        assert messages(c, tid) == before
        again = ask(c, tid, "show my deals in Commit")
        assert again["status"] == "done", again["review_reasons"]
        assert messages(c, tid)[:4] == before and len(messages(c, tid)) == 6
        r = c.get(f"/v1/threads/{tid}", headers=h("rep2"))
        assert r.status_code == 404  # still private after the restart


def test_review_decided_after_a_restart(pg: PgOrg) -> None:
    tid = "pg-review"
    with pg.client() as c:
        held = ask(c, tid, f"explain the score of {pg.deal}")  # rules: confidence 50
        assert held["status"] == "pending_review" and held["answer"] == "", held
    scored = counts(pg.store)
    with pg.client() as c:
        view = c.get(f"/v1/threads/{tid}", headers=h("top")).json()
        assert view["last"]["status"] == "pending_review"
        assert pg.deal in view["pending_review"]["answer"]
        for who, code in (("rep", 403), ("rep2", 404)):
            r = c.post(f"/v1/threads/{tid}/resume", json={"approved": True}, headers=h(who))
            assert r.status_code == code, (who, r.text)
        r = c.post(f"/v1/threads/{tid}/resume", json={"approved": True}, headers=h("top"))
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["status"] == "done" and pg.deal in done["answer"] and done["needs_review"]
        assert messages(c, tid)[-1] == ("assistant", done["answer"])
    assert counts(pg.store) == scored  # approving did not score again


def test_unfinished_turn_resumed_after_a_restart(pg: PgOrg) -> None:
    tid = "pg-cut"
    owner = {"user_id": pg.rep, "role": "rep", "as_of": DAY}
    with pg.client() as c:
        cut_short(c, tid, owner, "show my deals by probability")
    scored = counts(pg.store)
    with pg.client() as c:
        assert c.get(f"/v1/threads/{tid}", headers=h("rep")).json()["last"]["status"] == (
            "unfinished"
        )
        r = c.post(f"/v1/threads/{tid}/resume", json={}, headers=h("rep"))
        assert r.status_code == 200, r.text
        body = r.json()  # the rep's deals were scored by the rules (confidence 50): held
        assert body["status"] == "pending_review", body
        assert any("confidence" in reason for reason in body["review_reasons"])
    assert counts(pg.store) == scored


def test_chat_survives_a_dropped_checkpoint_connection(pg: PgOrg) -> None:
    """PostgreSQL restarted, a proxy or an idle timeout closed the checkpointer's connection:
    the next turn reconnects instead of failing until the server restarts."""
    tid = "pg-dropped"
    with pg.client() as c:
        assert ask(c, tid, "is the data fresh?")["status"] == "done"
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            killed = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = %s AND pid <> pg_backend_pid()",
                (CHECKPOINT_APP,),
            ).fetchall()
        assert killed, "the checkpointer's connections are named (application_name)"
        again = ask(c, tid, "is the data fresh?")
        assert again["status"] == "done" and "data quality" in again["answer"]
        assert [m[0] for m in messages(c, tid)] == ["user", "assistant"] * 2


def test_serve_process_on_postgres(pg: PgOrg, tmp_path: Path) -> None:
    env = {
        "DEALCAST_DATABASE_URL": pg.url,
        "DEALCAST_API_KEYS": json.dumps(pg.keys),
        "DEALCAST_DATA_DIR": str(tmp_path),
        "LANGSMITH_TRACING": "false",
    }
    server = ServerProcess(None, env, tmp_path / "server.log")
    try:
        base = server.start().base
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200, server.log()
        body = {"message": "is the data fresh?", "thread_id": "pg-proc", "as_of": DAY}
        r = httpx.post(f"{base}/v1/chat", json=body, headers=h("rep"), timeout=60)
        assert r.status_code == 200 and r.json()["status"] == "done", r.text
        assert "data quality" in r.json()["answer"]
        view = httpx.get(f"{base}/v1/threads/pg-proc", headers=h("top"), timeout=30).json()
        assert [m["role"] for m in view["messages"]] == ["user", "assistant"]
    finally:
        server.stop()
    assert pg.checkpoints("pg-proc") > 0
