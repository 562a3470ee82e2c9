"""The chat model, built from settings; None when no LLM is configured."""

from __future__ import annotations

from typing import Any

from langchain_openai import ChatOpenAI

from dealcast.config import Settings, get_settings

DEFAULT_TIMEOUT_S = 30.0


def build_chat(
    settings: Settings | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    *,
    http_async_client: Any | None = None,
) -> ChatOpenAI | None:
    """A `ChatOpenAI` for `llm_base_url` + `openai_api_key`, or None unless both are set.

    Both are required so that an OPENAI_API_KEY exported for other tools never sends CRM text
    to a hosted API by accident (keyless local servers accept any placeholder key).
    `http_async_client` (an `httpx.AsyncClient`) replaces langchain-openai's process-wide
    cached one, whose pooled connections belong to the first event loop that used them.
    """
    settings = settings or get_settings()
    if not settings.llm_base_url or settings.openai_api_key is None:
        return None
    if timeout <= 0:
        raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
    return ChatOpenAI(
        model=settings.llm_model,
        base_url=settings.llm_base_url,
        api_key=settings.openai_api_key,
        # Callers fall back to the rules on failure; retries would only delay that.
        max_retries=0,
        timeout=timeout,
        temperature=0,
        # Chat Completions is what OpenAI-compatible servers (vLLM, Ollama, llama.cpp) serve;
        # some model names would otherwise route to the Responses API.
        use_responses_api=False,
        http_async_client=http_async_client,
    )
