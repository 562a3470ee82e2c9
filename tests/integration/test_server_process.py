"""`dealcast serve` as a real process on a free port: /healthz, then /v1/deals with a key."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.demo_org import AS_OF, DemoOrg, copy_store

KEY = "process-test-key-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve_command() -> list[str]:
    from dealcast.cli import app

    names = {c.name or getattr(c.callback, "__name__", "") for c in app.registered_commands}
    if "serve" in names or "cmd_serve" in names:
        return [sys.executable, "-m", "dealcast", "serve"]
    return [sys.executable, "-m", "dealcast.cli_serve"]  # until `serve` is registered


def test_dealcast_serve_process(demo_org: DemoOrg, tmp_path: Path) -> None:
    db = tmp_path / "org.db"
    store = copy_store(demo_org.store, db)
    owner = str(store.as_of(AS_OF).open_opportunities()["OwnerId"].iloc[0])
    store.close()
    port = _free_port()
    env = os.environ | {
        "DEALCAST_API_KEYS": json.dumps({KEY: {"user_id": owner, "role": "rep"}}),
        "DEALCAST_DATA_DIR": str(tmp_path),
        "LANGSMITH_TRACING": "false",
    }
    cmd = [*_serve_command(), "--host", "127.0.0.1", "--port", str(port), "--db", str(db)]
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not come up:\n" + (tmp_path / "server.log").read_text())
            time.sleep(0.3)
        params = {"as_of": AS_OF.date().isoformat(), "limit": 3}
        assert httpx.get(f"{base}/v1/deals", params=params, timeout=5).status_code == 401
        r = httpx.get(f"{base}/v1/deals", params=params, headers={"X-API-Key": KEY}, timeout=60)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["total"] > 0 and len(body["deals"]) == min(3, body["total"])
        assert {d["owner_id"] for d in body["deals"]} == {owner}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
