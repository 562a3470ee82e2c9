"""Plumbing shared by the loopback OpenAI-compatible stub servers of the LLM tests: serve a
FastAPI app on a free loopback port in a thread, and wrap a message as a chat completion.
Each test module keeps its own app and scripting (what the stub answers, and when)."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run `app` on 127.0.0.1 until the block ends; yields the OpenAI base URL (…/v1)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=1))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(5)
        sock.close()


def message_for(behaviour: dict[str, Any], body: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """(assistant message, finish reason) for a scripted behaviour: `tool_calls` [(name,
    arguments json)], `refusal` text, or `content` (text, or a function of the request)."""
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if "tool_calls" in behaviour:
        message["tool_calls"] = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(behaviour["tool_calls"])
        ]
        return message, "tool_calls"
    if "refusal" in behaviour:
        message["refusal"] = behaviour["refusal"]
        return message, "stop"
    content = behaviour["content"]
    message["content"] = content(body) if callable(content) else content
    return message, "stop"


def completion(model: str, message: dict[str, Any], finish: str) -> dict[str, Any]:
    """A chat.completion response body holding one choice."""
    return {
        "id": "chatcmpl-stub",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


async def reply(behaviour: dict[str, Any], body: dict[str, Any]) -> Any:
    """The stub's answer to one request: after `sleep` seconds, an HTTP `status` error, a
    `raw` body that is not an OpenAI response, or a completion (see `message_for`)."""
    if "sleep" in behaviour:
        await asyncio.sleep(behaviour["sleep"])
    if "status" in behaviour:
        error = {"error": {"message": "scripted failure", "type": "server_error"}}
        return JSONResponse(error, behaviour["status"])
    if "raw" in behaviour:
        return JSONResponse(behaviour["raw"])
    message, finish = message_for(behaviour, body)
    return completion(body["model"], message, finish)
