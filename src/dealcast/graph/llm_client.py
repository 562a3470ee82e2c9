"""The graph's access to the LLM: one `ChatOpenAI` per settings (`dealcast.llm.chat`), used
only when `Context.use_llm` is set AND an LLM is configured, guarded by a shared circuit
breaker. `call_llm` turns every failure (timeout, HTTP error, malformed or refused output,
an open circuit) into `LLMUnavailable`, so callers have exactly one fallback branch.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import httpx
from langchain_core.language_models import BaseChatModel

from dealcast.config import Settings, get_settings
from dealcast.graph.circuit import CircuitBreaker, breaker
from dealcast.graph.context import Context
from dealcast.llm.chat import build_chat

log = logging.getLogger(__name__)
T = TypeVar("T")


class LLMUnavailable(Exception):
    """The LLM could not be used for this call; `reason` says why (short, for flags)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LLMOutputError(ValueError):
    """The model answered, but not with something usable (no/malformed tool call, refusal)."""


@dataclass(frozen=True)
class LLM:
    chat: BaseChatModel
    breaker: CircuitBreaker
    timeout_s: float


# One chat model (and httpx connection pool) per event loop: pooled connections belong to
# the loop that opened them, and tests or scripts may run turns on successive loops.
_PER_LOOP: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Any]] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def _chat(settings: Settings, timeout: float) -> BaseChatModel | None:
    assert settings.openai_api_key is not None
    key = (
        settings.llm_base_url,
        settings.llm_model,
        settings.openai_api_key.get_secret_value(),
        timeout,
    )
    loop = asyncio.get_running_loop()
    with _LOCK:
        cache = _PER_LOOP.setdefault(loop, {})
        if key not in cache:
            client = httpx.AsyncClient(timeout=timeout)
            cache[key] = build_chat(settings, timeout=timeout, http_async_client=client)
        return cast(BaseChatModel | None, cache[key])


def llm_for(ctx: Context, settings: Settings | None = None) -> LLM | None:
    """The run's LLM, or None when the run or the deployment has none. Call it from the
    event loop that will await the model (the graph's async nodes)."""
    if not ctx.use_llm:
        return None
    settings = settings or get_settings()
    if not settings.llm_base_url or settings.openai_api_key is None:
        return None
    chat = _chat(settings, ctx.llm_timeout_s)
    if chat is None:
        return None
    return LLM(chat, breaker(f"{settings.llm_base_url}|{settings.llm_model}"), ctx.llm_timeout_s)


def describe_error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def call_llm(llm: LLM, call: Callable[[], Awaitable[T]]) -> T:
    """`await call()` through the breaker, within the timeout (a backstop to the client's
    own); any failure is counted by the breaker and raised as `LLMUnavailable`."""
    if not llm.breaker.allow():
        raise LLMUnavailable(f"circuit open (retry in {llm.breaker.retry_in():.0f}s)")
    try:
        result = await asyncio.wait_for(call(), timeout=llm.timeout_s + 1.0)
    except asyncio.CancelledError:
        llm.breaker.record_failure()
        raise
    except Exception as exc:  # every LLM failure means the rules answer
        llm.breaker.record_failure()
        log.warning("LLM call failed: %s", describe_error(exc))
        raise LLMUnavailable(describe_error(exc)) from exc
    llm.breaker.record_success()
    return result
