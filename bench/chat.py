"""Chat latency and load against a real `dealcast serve` process, without an LLM.

1. Warm latency: "why is <deal> at risk?" and "forecast next quarter", one at a time after a
   warm-up, each on a new thread: p50 / p95 (targets p50 < 300 ms, p95 < 1 s). The deal
   questions cycle over 10 deals: with --n 10 each is the first question about its deal in
   this hour (the chat caches miss: tools/cache.py); with --n 20 half are repeats.
2. Load: 50 concurrent clients asking a mix of both for 60 s: requests, errors (any
   non-200 reply or transport error; target 0), p50 / p95 under load.

The org is a copy of the shared demo store (bench/out/demo-scale{S}.db, built by
bench/ingest.py or bench/scoring.py); results go to bench/out/chat.json.

    .venv/bin/python bench/chat.py [--scale 1] [--clients 50] [--seconds 60] [--n 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT
from scoring import END, demo_store

KEY = "bench-chat-key-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(db: Path, port: int) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "DEALCAST_API_KEYS": json.dumps({KEY: {"user_id": "admin", "role": "admin"}}),
        "LANGSMITH_TRACING": "false",
    }
    cmd = [sys.executable, "-m", "dealcast", "serve", "--port", str(port), "--db", str(db)]
    log = (OUT / "chat-server.log").open("w")
    return subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)


def _wait(base: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("server exited: see bench/out/chat-server.log")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise SystemExit("server did not come up in 120 s")


def _pct(values: list[float]) -> dict[str, float]:
    arr = np.array(values) * 1000
    return {
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "n": len(values),
    }


async def _ask(client: httpx.AsyncClient, message: str) -> tuple[float, bool]:
    start = time.perf_counter()
    try:
        r = await client.post("/v1/chat", json={"message": message}, timeout=60)
        ok = r.status_code == 200
    except httpx.TransportError:
        ok = False
    return time.perf_counter() - start, ok


async def _latency(base: str, questions: dict[str, list[str]], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": KEY}) as client:
        for name, texts in questions.items():
            await _ask(client, texts[0])  # warm-up
            times = []
            for i in range(n):
                elapsed, ok = await _ask(client, texts[i % len(texts)])
                if not ok:
                    raise SystemExit(f"{name}: request failed")
                times.append(elapsed)
            out[name] = _pct(times)
    return out


async def _load(base: str, texts: list[str], clients: int, seconds: float) -> dict[str, Any]:
    times: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client_loop(k: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, headers={"X-API-Key": KEY}) as client:
            i = k
            while time.monotonic() < stop:
                elapsed, ok = await _ask(client, texts[i % len(texts)])
                times.append(elapsed)
                errors += not ok
                i += 1

    await asyncio.gather(*(client_loop(k) for k in range(clients)))
    return {
        "clients": clients,
        "seconds": seconds,
        "requests": len(times),
        "errors": errors,
        **_pct(times),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()
    source = demo_store(args.scale)
    deals = source.as_of(END).open_opportunities().nlargest(10, "Amount")["Name"].tolist()
    source.close()
    db = OUT / "chat.db"
    db.unlink(missing_ok=True)
    # the backup API copies a consistent state even while another bench writes the source
    with sqlite3.connect(OUT / f"demo-scale{args.scale:g}.db") as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    questions = {
        "deal_risk": [f"why is {name} at risk?" for name in deals],
        "forecast": ["forecast next quarter"],
    }
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _start(db, port)
    try:
        _wait(base, proc)
        result: dict[str, Any] = {"scale": args.scale, "load_average": os.getloadavg()}
        result["latency"] = asyncio.run(_latency(base, questions, args.n))
        print(json.dumps(result["latency"]), flush=True)
        mixed = questions["deal_risk"] + questions["forecast"] * 3
        result["load"] = asyncio.run(_load(base, mixed, args.clients, args.seconds))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:  # busy with queued requests: do not wait for them
            proc.kill()
            proc.wait()
    (OUT / "chat.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
