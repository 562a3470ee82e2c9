"""Unfinished turns: a real `dealcast serve` SIGKILLed mid-run and restarted resumes the
thread from its checkpoints without repeating finished side effects; in process, who may
resume what (unfinished turns, held answers) and what a new message on such a thread gets."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from langgraph.checkpoint.sqlite import SqliteSaver

from dealcast.config import Settings
from dealcast.crm.store import Store
from dealcast.graph.testing_hooks import TASK_DELAY_ENV
from dealcast.server import create_app
from dealcast.tools.store import close_stores
from tests.demo_org import AS_OF, DemoOrg, copy_store
from tests.integration import chat_helpers
from tests.integration.chat_helpers import callers, counts
from tests.integration.serve_process import ServerProcess

DAY = AS_OF.date().isoformat()
REP_KEY = "resume-test-rep-key-0123456789"


def saved_writes(threads_db: Path, thread_id: str) -> list[tuple[str, str, Any]]:
    """The pending writes of the thread's latest checkpoint (read from another process)."""
    conn = sqlite3.connect(str(threads_db), check_same_thread=False, timeout=1)
    try:
        found = SqliteSaver(conn).get_tuple({"configurable": {"thread_id": thread_id}})
        return list(found.pending_writes or []) if found else []
    except sqlite3.OperationalError:  # the server is writing, or has not created it yet
        return []
    finally:
        conn.close()


def test_killed_server_resumes_the_turn_without_repeating_side_effects(
    demo_org: DemoOrg, tmp_path: Path
) -> None:
    db = tmp_path / "org.db"
    store = copy_store(demo_org.store, db)
    rep = str(store.as_of(AS_OF).open_opportunities()["OwnerId"].value_counts().index[0])
    env = {
        "DEALCAST_API_KEYS": json.dumps({REP_KEY: {"user_id": rep, "role": "rep"}}),
        "DEALCAST_DATA_DIR": str(tmp_path),
        "LANGSMITH_TRACING": "false",
    }
    headers = {"X-API-Key": REP_KEY}
    tid = "crash-1"
    threads_db = Path(f"{db}.threads.db")  # the default checkpoint store beside the db
    # list_deals waits; its sibling `score` (stores predictions + audit) finishes meanwhile
    first = ServerProcess(str(db), env | {TASK_DELAY_ENV: "list_deals=55"}, tmp_path / "a.log")
    second = ServerProcess(str(db), env, tmp_path / "b.log")
    try:
        first.start()
        turn1 = {"message": "is the data fresh?", "thread_id": tid, "as_of": DAY}
        r = httpx.post(f"{first.base}/v1/chat", json=turn1, headers=headers, timeout=60)
        assert r.status_code == 200 and r.json()["status"] == "done", r.text
        answer1 = r.json()["answer"]
        before = counts(store)

        question = "show my deals by probability"
        cut: dict[str, Any] = {}

        def ask() -> None:  # blocks until the kill cuts the connection
            try:
                body = {"message": question, "thread_id": tid}
                cut["response"] = httpx.post(
                    f"{first.base}/v1/chat", json=body, headers=headers, timeout=90
                )
            except httpx.TransportError as exc:
                cut["error"] = exc

        asker = threading.Thread(target=ask)
        asker.start()
        deadline = time.monotonic() + 50  # < the 55 s hold (and the 60 s hard node timeout)
        while not any(
            ch == "results" and "score" in (val or {})
            for _, ch, val in saved_writes(threads_db, tid)
        ):
            assert time.monotonic() < deadline, "score never checkpointed:\n" + first.log()
            assert asker.is_alive(), cut
            time.sleep(0.1)
        mid = counts(store)
        assert mid[0] > before[0] and mid[1] == before[1] + 1  # scored once, before the kill
        first.kill()
        asker.join(30)
        assert "error" in cut, cut  # the turn never answered

        second.start()
        base = second.base
        view = httpx.get(f"{base}/v1/threads/{tid}", headers=headers, timeout=30).json()
        assert view["last"]["status"] == "unfinished" and view["last"]["answer"] == ""

        r = httpx.post(f"{base}/v1/threads/{tid}/resume", json={}, headers=headers, timeout=90)
        assert r.status_code == 200, r.text
        done = r.json()
        assert done["status"] == "done" and not done["partial"], done
        listed = done["data"]["deals"]
        assert listed and {d["owner_id"] for d in listed} == {rep}
        assert counts(store) == mid  # the finished score step was not run again

        view = httpx.get(f"{base}/v1/threads/{tid}", headers=headers, timeout=30).json()
        assert [(m["role"], m["content"]) for m in view["messages"]] == [
            ("user", turn1["message"]),
            ("assistant", answer1),
            ("user", question),
            ("assistant", done["answer"]),
        ]
        assert view["last"]["status"] == "done"
        r = httpx.post(f"{base}/v1/threads/{tid}/resume", json={}, headers=headers, timeout=30)
        assert r.status_code == 409  # nothing left to resume
    finally:
        first.stop()
        second.stop()
        store.close()


# ---------------------------------------------------------------- in process
KEY = {who: f"resume-key-{who}-0123456789" for who in ("rep", "rep2", "top", "solo", "admin")}


def h(who: str) -> dict[str, str]:
    return {"X-API-Key": KEY[who]}


@dataclass
class Api:
    client: TestClient
    store: Store
    rep: str
    top: str
    deal: str  # one of the rep's open deals


@pytest.fixture(scope="module")
def api(demo_org: DemoOrg, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("resume")
    store = copy_store(demo_org.store, tmp / "org.db")
    who = callers(store, AS_OF)
    rep, rep2, top = who["rep"], who["rep2"], who["top"]
    keys = {
        KEY["rep"]: {"user_id": rep, "role": "rep"},
        KEY["rep2"]: {"user_id": rep2, "role": "rep"},
        KEY["top"]: {"user_id": top, "role": "manager"},
        KEY["solo"]: {"user_id": rep2, "role": "manager"},  # manages nobody
        KEY["admin"]: {"user_id": top, "role": "admin"},
    }
    settings = Settings(
        data_dir=tmp,
        checkpoint_url=f"sqlite:///{tmp / 'threads.db'}",
        chat_review_interrupt=True,
    )
    deals = store.as_of(AS_OF).open_opportunities()
    deal = str(deals[deals["OwnerId"] == rep]["Id"].iloc[0])
    with TestClient(create_app(settings, store=store, api_keys=keys)) as client:
        yield Api(client, store, rep, top, deal)
    close_stores()
    store.close()


def cut_short(api: Api, tid: str, text: str) -> None:
    chat_helpers.cut_short(api.client, tid, {"user_id": api.rep, "role": "rep", "as_of": DAY}, text)


def test_who_may_finish_an_unfinished_turn(api: Api) -> None:
    c = api.client
    tid = "cut-1"
    cut_short(api, tid, "is the data fresh?")
    before = counts(api.store)
    own = c.get(f"/v1/threads/{tid}", headers=h("rep")).json()
    assert own["last"]["status"] == "unfinished" and own["messages"][-1]["role"] == "user"
    for who in ("rep2", "solo"):  # not theirs, and not someone they manage: invisible
        r = c.post(f"/v1/threads/{tid}/resume", json={}, headers=h(who))
        assert r.status_code == 404, (who, r.text)
    r = c.post(f"/v1/threads/{tid}/resume", json={}, headers=h("rep"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "done" and "data quality" in body["answer"]
    assert counts(api.store) == before  # nothing scored, nothing re-run
    r = c.post(f"/v1/threads/{tid}/resume", json={}, headers=h("rep"))
    assert r.status_code == 409
    view = c.get(f"/v1/threads/{tid}", headers=h("top")).json()  # the rep's manager
    assert [m["role"] for m in view["messages"]] == ["user", "assistant"]


def test_a_new_message_supersedes_an_unfinished_turn(api: Api) -> None:
    c = api.client
    tid = "cut-superseded"
    cut_short(api, tid, "is the data fresh?")
    r = c.post("/v1/chat", json={"message": "show my deals", "thread_id": tid}, headers=h("rep"))
    assert r.status_code == 200 and r.json()["status"] == "done", r.text
    assert {d["owner_id"] for d in r.json()["data"]["deals"]} == {api.rep}
    view = c.get(f"/v1/threads/{tid}", headers=h("rep")).json()
    assert view["messages"] == [
        {"role": "user", "content": "is the data fresh?"},
        {"role": "user", "content": "show my deals"},
        {"role": "assistant", "content": r.json()["answer"]},
    ]
    assert c.post(f"/v1/threads/{tid}/resume", json={}, headers=h("rep")).status_code == 409


def test_a_turn_cut_short_then_held_for_review(api: Api) -> None:
    c = api.client
    tid = "cut-2"
    cut_short(api, tid, f"explain the score of {api.deal}")  # rules: confidence 50 -> review
    scored = counts(api.store)
    r = c.post(f"/v1/threads/{tid}/resume", json={}, headers=h("rep"))
    assert r.status_code == 200 and r.json()["status"] == "pending_review", r.text
    for body, who, code in (
        ({"approved": True}, "rep", 403),  # the owner, a rep: cannot review
        ({}, "top", 422),  # a decision is needed now
        ({"approved": True}, "solo", 404),
    ):
        r = c.post(f"/v1/threads/{tid}/resume", json=body, headers=h(who))
        assert r.status_code == code, (who, r.text)
    r = c.post(f"/v1/threads/{tid}/resume", json={}, headers=h("top"))
    assert ["body", "approved"] in [e["loc"] for e in r.json()["detail"]]
    r = c.post(f"/v1/threads/{tid}/resume", json={"approved": False}, headers=h("admin"))
    assert r.status_code == 200 and r.json()["status"] == "done", r.text
    assert "withheld" in r.json()["answer"] and api.deal not in r.json()["answer"]
    assert counts(api.store) == scored  # the score ran once, before the cut


def test_concurrent_runs_on_one_thread_are_refused(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = api.client.app.state.dealcast.chat  # type: ignore[attr-defined]
    held: dict[str, asyncio.Event] = {}

    async def hold(kind: str) -> None:  # the first run waits inside a worker until released
        if "holding" not in held:
            held["holding"] = held["release"]
            await held["release"].wait()

    monkeypatch.setattr("dealcast.graph.workers.delay_task", hold)

    async def both() -> list[int]:
        held["release"] = asyncio.Event()
        transport = httpx.ASGITransport(app=api.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            body = {"message": "is the data fresh?", "thread_id": "twice", "as_of": DAY}
            first = asyncio.create_task(client.post("/v1/chat", json=body, headers=h("rep")))
            while "twice" not in chat._running:
                await asyncio.sleep(0.01)
            second = await client.post("/v1/chat", json=body, headers=h("rep"))
            held["release"].set()
            return [(await first).status_code, second.status_code]

    assert api.client.portal.call(both) == [200, 409]  # type: ignore[union-attr]
