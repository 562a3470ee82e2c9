"""The HTTP API in process (FastAPI TestClient) on a copy of the demo org: auth, visibility
per role, validation (422 with the field), 404s, forecasts, scenarios, audit, the pool-
exhausted 503, readiness, and chat threads with human review and SSE."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from dealcast.api import forecasts as forecasts_api
from dealcast.api.auth import ApiKeys, load_api_keys
from dealcast.config import Settings
from dealcast.crm.db import make_engine
from dealcast.crm.store import Store
from dealcast.safety.policy import Caller
from dealcast.server import create_app
from dealcast.tools.store import close_stores
from tests.demo_org import AS_OF, DemoOrg, copy_store

DAY = AS_OF.date().isoformat()
KEY = {role: f"test-key-{role}-0123456789" for role in ("rep", "rep2", "top", "finance", "admin")}
KEY["solo"] = "test-key-solo-manager-0123"  # a manager role on a user with no reports


@dataclass
class Org:
    client: TestClient
    store: Store
    rep: str  # the rep with the fewest open deals
    rep2: str  # another rep
    top: str  # top of the hierarchy (manager role): sees everyone, transitively
    open_deals: pd.DataFrame


def h(who: str) -> dict[str, str]:
    return {"X-API-Key": KEY[who]}


def _settings(tmp: Path, **kw: object) -> Settings:
    return Settings(data_dir=tmp, checkpoint_url=f"sqlite:///{tmp / 'threads.db'}", **kw)


@pytest.fixture(scope="module")
def org(demo_org: DemoOrg, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Org]:
    tmp = tmp_path_factory.mktemp("server")
    store = copy_store(demo_org.store, tmp / "org.db")
    snap = store.as_of(AS_OF)
    deals = snap.open_opportunities()
    users = snap.users()
    counts = deals["OwnerId"].value_counts()
    rep, rep2 = str(counts.index[-1]), str(counts.index[0])
    top = str(users[users["ManagerId"].isna()]["Id"].iloc[0])
    keys = {
        KEY["rep"]: {"user_id": rep, "role": "rep"},
        KEY["rep2"]: {"user_id": rep2, "role": "rep"},
        KEY["top"]: {"user_id": top, "role": "manager"},
        KEY["solo"]: {"user_id": rep2, "role": "manager"},
        KEY["finance"]: {"user_id": top, "role": "finance"},
        KEY["admin"]: {"user_id": top, "role": "admin"},
    }
    app = create_app(_settings(tmp, chat_review_interrupt=True), store=store, api_keys=keys)
    with TestClient(app) as client:
        yield Org(client, store, rep, rep2, top, deals)
    close_stores()
    store.close()


def field_of(response: object) -> list[list[object]]:
    return [e["loc"] for e in response.json()["detail"]]  # type: ignore[attr-defined]


def test_health_probes_need_no_key(org: Org) -> None:
    assert org.client.get("/healthz").json() == {"status": "ok"}
    ready = org.client.get("/readyz")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["status"] == "ready" and set(body["checks"].values()) == {"ok"}
    assert body["model_version"] == "rules"  # no model trained in the demo org
    paths = org.client.get("/openapi.json").json()["paths"]
    assert {"/v1/deals", "/v1/forecasts", "/v1/chat", "/v1/threads/{thread_id}"} <= set(paths)
    assert "401" in paths["/v1/deals"]["get"]["responses"]


def test_readyz_503_when_migrations_are_behind(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'old.db'}")
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0004'"))
    app = create_app(_settings(tmp_path), store=store, api_keys={}, chat=False)
    with TestClient(app) as client:
        ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["migrations"].startswith("database at 0004")
    store.close()


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/v1/deals"), ("post", "/v1/forecasts"), ("get", "/v1/audit"), ("post", "/v1/chat")],
)
def test_missing_or_unknown_key_is_401(org: Org, method: str, path: str) -> None:
    for headers in ({}, {"X-API-Key": "not-a-known-key-at-all"}):
        response = org.client.request(method, path, headers=headers, json={})
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "X-API-Key"


def test_deal_visibility_per_role(org: Org) -> None:
    def listed(who: str, **params: object) -> dict:
        r = org.client.get("/v1/deals", params={"as_of": DAY, "limit": 5, **params}, headers=h(who))
        assert r.status_code == 200, r.text
        return r.json()

    owners = org.open_deals["OwnerId"]
    mine = listed("rep")
    assert mine["total"] == int((owners == org.rep).sum())
    assert mine["deals"] and {d["owner_id"] for d in mine["deals"]} == {org.rep}
    assert all(d["win_probability"] is not None for d in mine["deals"])
    assert listed("rep", owner=org.rep2)["total"] == 0  # another rep's deals: none
    assert listed("solo")["total"] == int((owners == org.rep2).sum())  # no reports: own only
    everyone = len(org.open_deals)
    assert listed("top")["total"] == everyone  # ManagerId tree, two levels down
    assert listed("finance")["total"] == everyone
    assert listed("admin", owner=org.rep2)["total"] == int((owners == org.rep2).sum())


def test_deal_filters_and_422_names_the_field(org: Org) -> None:
    get = org.client.get
    r = get(
        "/v1/deals",
        params={"as_of": DAY, "min_probability": 20, "max_probability": 60},
        headers=h("rep"),
    )
    assert r.status_code == 200, r.text
    assert all(20 <= d["win_probability"] <= 60 for d in r.json()["deals"])
    stage = str(org.open_deals["StageName"].iloc[0])
    r = get("/v1/deals", params={"as_of": DAY, "stage": stage, "limit": 3}, headers=h("admin"))
    assert r.status_code == 200 and {d["stage"] for d in r.json()["deals"]} == {stage}
    bad = {
        "stage": {"stage": "Nowhere"},
        "risk": {"risk": "sunspots"},
        "min_probability": {"min_probability": 150},
        "as_of": {"as_of": "last tuesday"},
        "limit": {"limit": 0},
    }
    for name, params in bad.items():
        r = get("/v1/deals", params=params, headers=h("rep"))
        assert r.status_code == 422, (name, r.text)
        assert ["query", name] in field_of(r)
    stage_error = get("/v1/deals", params={"stage": "Nowhere"}, headers=h("rep")).json()
    assert "Prospecting" in stage_error["detail"][0]["msg"]  # names the valid options


def test_risk_filter(org: Org) -> None:
    params = {"as_of": DAY, "risk": "close_date_slipped"}
    r = org.client.get("/v1/deals", params=params, headers=h("rep"))
    assert r.status_code == 200, r.text
    found = r.json()["deals"]
    assert found  # this rep has several deals whose close date slipped
    for deal in found:
        assert deal["owner_id"] == org.rep and "close_date_slipped" in deal["risk_codes"]


def test_api_keys_from_settings_and_their_errors(tmp_path: Path) -> None:
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_text("yaml-key-0123456789abc: {user_id: 005B, role: manager}\n")
    settings = Settings(
        api_keys=json.dumps({"json-key-0123456789abc": {"user_id": "005A", "role": "finance"}}),
        api_keys_file=keys_file,
    )
    keys = load_api_keys(settings)
    assert keys.lookup("json-key-0123456789abc") == Caller("005A", "finance")
    assert keys.lookup("yaml-key-0123456789abc") == Caller("005B", "manager")
    assert keys.lookup("json-key-0123456789abd") is None and keys.lookup(None) is None
    with pytest.raises(ValueError, match="valid roles are rep, manager, finance, admin"):
        ApiKeys.parse({"k" * 20: {"user_id": "005A", "role": "boss"}})
    with pytest.raises(ValueError, match="at least 16 characters"):
        ApiKeys.parse({"short": {"user_id": "005A", "role": "rep"}})
    with pytest.raises(ValueError, match=r"unknown field.*valid: user_id, role, name"):
        ApiKeys.parse({"k" * 20: {"user_id": "005A", "role": "rep", "team": "x"}})
    with pytest.raises(ValueError, match="api_keys: not a JSON mapping"):
        load_api_keys(Settings(api_keys="not json"))


def test_deal_detail_and_404(org: Org) -> None:
    own = str(org.open_deals[org.open_deals["OwnerId"] == org.rep]["Id"].iloc[0])
    other = str(org.open_deals[org.open_deals["OwnerId"] == org.rep2]["Id"].iloc[0])
    r = org.client.get(f"/v1/deals/{own}", params={"as_of": DAY}, headers=h("rep"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["deal"]["id"] == own and body["deal"]["owner_id"] == org.rep
    assert 0 <= body["score"]["win_probability"] <= 100 and body["top_factors"]
    assert isinstance(body["risks"], list) and isinstance(body["next_best_actions"], list)
    assert body["deal"]["risk_codes"] == [x["code"] for x in body["risks"]]
    for deal, who in ((other, "rep"), ("006NOSUCHDEAL0000", "admin")):
        r = org.client.get(f"/v1/deals/{deal}", params={"as_of": DAY}, headers=h(who))
        assert r.status_code == 404, r.text


def test_forecasts_cut_roll_ups_to_the_caller(org: Org) -> None:
    body = {"period": "quarter", "periods": 1, "n_sims": 200, "seed": 3, "as_of": DAY}
    rep = org.client.post("/v1/forecasts", json=body, headers=h("rep"))
    assert rep.status_code == 200, rep.text
    period = rep.json()["periods"][0]
    assert [r["owner_id"] for r in period["by_owner"]] == [org.rep]
    assert period["by_manager"] == []
    fin = org.client.post("/v1/forecasts", json=body, headers=h("finance")).json()["periods"][0]
    assert len(fin["by_owner"]) >= 2 and fin["by_manager"]
    assert fin["expected"] == pytest.approx(period["expected"])  # same seed, same numbers
    for patch, name in (
        ({"period": "year"}, "period"),
        ({"n_sims": 10}, "n_sims"),
        ({"as_of": "soon"}, "as_of"),
        ({"colour": "red"}, "colour"),
    ):
        r = org.client.post("/v1/forecasts", json=body | patch, headers=h("rep"))
        assert r.status_code == 422 and ["body", name] in field_of(r), r.text
    label = period["period"]
    hist = org.client.get("/v1/forecasts/history", params={"period": label}, headers=h("rep"))
    assert hist.status_code == 200 and len(hist.json()["forecasts"]) >= 2, hist.text
    bad = org.client.get("/v1/forecasts/history", params={"period": "2026-Q9"}, headers=h("rep"))
    assert bad.status_code == 422 and ["query", "period"] in field_of(bad)


def test_scenarios_only_touch_what_the_caller_sees(org: Org) -> None:
    own = org.open_deals[org.open_deals["OwnerId"] == org.rep].iloc[0]
    other = str(org.open_deals[org.open_deals["OwnerId"] == org.rep2]["Id"].iloc[0])
    body = {
        "period": "quarter",
        "periods": 2,
        "n_sims": 200,
        "as_of": DAY,
        "name": "slip",
        "changes": [{"op": "move", "deal": str(own["Id"]), "close_date": "2027-03-31"}],
    }
    r = org.client.post("/v1/scenarios", json=body, headers=h("rep"))
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["name"] == "slip" and len(out["deltas"]) == 2
    assert {d["deal_id"] for d in out["drivers"]} <= {str(own["Id"])}
    for period in out["scenario"]["periods"]:
        assert {x["owner_id"] for x in period["by_owner"]} <= {org.rep}
    hidden = body | {"changes": [{"op": "remove", "deal": other}]}
    r = org.client.post("/v1/scenarios", json=hidden, headers=h("rep"))
    assert r.status_code == 422 and ["body", "changes", 0, "deal"] in field_of(r), r.text
    r = org.client.post(
        "/v1/scenarios", json=body | {"changes": [{"op": "explode"}]}, headers=h("rep")
    )
    assert r.status_code == 422 and ["body", "changes", 0, "op"] in field_of(r)


def test_audit_is_for_finance_and_admin_with_paging(org: Org) -> None:
    for who in ("rep", "top"):
        assert org.client.get("/v1/audit", headers=h(who)).status_code == 403
    first = org.client.get("/v1/audit", params={"limit": 2}, headers=h("admin")).json()
    assert len(first["entries"]) == 2 and first["next_offset"] == 2
    second = org.client.get("/v1/audit", params={"limit": 2, "offset": 2}, headers=h("finance"))
    seqs = [e["seq"] for e in first["entries"] + second.json()["entries"]]
    assert seqs == sorted(seqs, reverse=True) and len(set(seqs)) == 4
    r = org.client.get("/v1/audit", params={"limit": 0}, headers=h("admin"))
    assert r.status_code == 422 and ["query", "limit"] in field_of(r)


def test_pool_exhausted_is_503_with_retry_after(org: Org, tmp_path: Path) -> None:
    url = org.store.engine.url.render_as_string(hide_password=False)
    tiny = Store(make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2))
    app = create_app(
        _settings(tmp_path, retry_after_s=7),
        store=tiny,
        api_keys={KEY["admin"]: {"user_id": org.top, "role": "admin"}},
        chat=False,
    )
    with TestClient(app) as client, tiny.engine.connect():  # holds the only connection
        r = client.get("/v1/deals", params={"as_of": DAY}, headers=h("admin"))
        assert r.status_code == 503 and r.headers["Retry-After"] == "7", r.text
        assert client.get("/readyz").status_code == 503
    with TestClient(app) as client:  # connection released: served again
        r = client.get("/v1/deals", params={"as_of": DAY, "limit": 1}, headers=h("admin"))
        assert r.status_code == 200, r.text
    tiny.close()


def test_chat_thread_review_resume_and_stream(org: Org) -> None:
    c = org.client
    r = c.post("/v1/chat", json={"message": "list my deals", "as_of": DAY}, headers=h("rep"))
    assert r.status_code == 200, r.text
    first = r.json()
    assert first["status"] == "done" and first["answer"] and first["thread_id"]
    tid = first["thread_id"]
    own = str(org.open_deals[org.open_deals["OwnerId"] == org.rep]["Id"].iloc[0])
    r = c.post(
        "/v1/chat",
        json={"message": f"explain the score of {own}", "thread_id": tid},
        headers=h("rep"),
    )
    held = r.json()
    assert held["status"] == "pending_review" and held["answer"] == "", held  # rules: conf 50
    assert any("confidence" in reason for reason in held["review_reasons"])
    assert c.get(f"/v1/threads/{tid}", headers=h("rep2")).status_code == 404  # not theirs
    r = c.post("/v1/chat", json={"message": "hi", "thread_id": tid}, headers=h("rep2"))
    assert r.status_code == 404
    view = c.get(f"/v1/threads/{tid}", headers=h("top")).json()  # the rep's manager
    assert view["owner_id"] == org.rep and own in view["pending_review"]["answer"]
    assert c.get(f"/v1/threads/{tid}", headers=h("rep")).json()["pending_review"] is None
    assert (
        c.post(f"/v1/threads/{tid}/resume", json={"approved": True}, headers=h("rep")).status_code
        == 403
    )
    r = c.post(f"/v1/threads/{tid}/resume", json={"approved": True}, headers=h("top"))
    done = r.json()
    assert r.status_code == 200 and done["status"] == "done" and own in done["answer"], done
    assert done["model_version"] == "rules" and done["needs_review"]
    r = c.post("/v1/chat", json={"message": "", "thread_id": "bad id!"}, headers=h("rep"))
    assert r.status_code == 422 and {"message", "thread_id"} <= {loc[-1] for loc in field_of(r)}
    with c.stream(
        "POST", "/v1/chat/stream", json={"message": "list my deals", "as_of": DAY}, headers=h("rep")
    ) as s:
        assert s.headers["content-type"].startswith("text/event-stream")
        events = [ln.split(": ", 1)[1] for ln in s.iter_lines() if ln.startswith("event: ")]
        assert events[0] == "thread" and "progress" in events and events[-1] == "message"


def test_blocking_work_leaves_the_event_loop_free(
    org: Org, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A forecast (pandas, numpy, SQL) runs in a worker thread: /healthz answers meanwhile.
    The forecast is held until /healthz has answered, so the check does not depend on how
    fast either one is (a forecast cached by an earlier test would otherwise finish first)."""
    body = {"period": "quarter", "periods": 2, "n_sims": 2000, "as_of": DAY}
    answered = threading.Event()
    real = forecasts_api.run_forecast

    def held(*args: Any, **kwargs: Any) -> Any:
        assert answered.wait(30), "/healthz did not answer while the forecast was running"
        return real(*args, **kwargs)

    monkeypatch.setattr(forecasts_api, "run_forecast", held)

    async def run() -> None:
        transport = httpx.ASGITransport(app=org.client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            slow = asyncio.create_task(
                client.post("/v1/forecasts", json=body, headers=h("admin"), timeout=120)
            )
            await asyncio.sleep(0.1)
            assert (await client.get("/healthz")).status_code == 200
            assert not slow.done()  # held until now: /healthz answered while it ran
            answered.set()
            assert (await slow).status_code == 200

    asyncio.run(run())
