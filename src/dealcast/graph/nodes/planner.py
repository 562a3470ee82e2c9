"""planner: this turn's request -> intent, plan of subtasks and updated focus (the
directory lookup is bounded by the node's hard TimeoutPolicy, not Context.node_timeout_s).

Deterministic (graph/planning) unless Context.use_llm and an LLM is configured, in which
case the LLM planner is tried first and any LLM failure falls back to these rules.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from dealcast.config import get_settings
from dealcast.graph.context import Context
from dealcast.graph.planning.plans import plan_request
from dealcast.graph.state import RESET, AgentState
from dealcast.tools.deals import load_directory
from dealcast.tools.store import database_url, get_store, resolve_as_of


def last_request(state: AgentState) -> str:
    for message in reversed(state.get("messages") or []):
        if isinstance(message, HumanMessage):
            return str(message.content)
    return str(state.get("request") or "")


async def planner(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context or Context()
    text = last_request(state)
    as_of = resolve_as_of(ctx.as_of)
    store = get_store(ctx.database_url)
    directory = await asyncio.to_thread(
        load_directory, store, as_of, database_url(ctx.database_url)
    )
    planned = plan_request(
        text,
        directory,
        state.get("focus"),
        as_of=as_of,
        caller_id=ctx.user_id,
        stages=[s.name for s in store.stages.open_stages],
        fiscal_start_month=get_settings().fiscal_start_month,
    )
    results: dict[str, Any] = {RESET: True}
    if planned.reply is not None:
        reply = dict(planned.reply)
        if reply.get("candidates"):
            by_id = {d["id"]: d for d in directory["deals"]}
            reply["deals"] = [by_id[i] for i in reply["candidates"] if i in by_id]
        results["reply"] = {"ok": True, "kind": "reply", "output": reply}
    return {
        "request": text,
        "turn": int(state.get("turn") or 0) + 1,
        "intent": planned.intent,
        "plan": planned.plan,
        "plan_source": "rules",
        "focus": planned.focus,
        "results": results,
        "answer": "",
        "data": {},
        "citations": [],
        "partial": False,
        "missing": [],
        "needs_review": False,
        "review_reasons": [],
        "blocked": False,
    }
