"""planner: this turn's request -> intent, plan of subtasks and updated focus (the
directory lookup is bounded by the node's hard TimeoutPolicy, not Context.node_timeout_s).

The deterministic plan (graph/planning) is always made (it is cheap and it is the fallback).
With Context.use_llm and an LLM configured, the LLM plan (`graph.llm_planner`) replaces it
when the call succeeds and the plan validates; entities the LLM got wrong fall back to the
rules' resolution one by one (flagged). Any LLM failure (timeout, HTTP error, malformed or
refused tool call, open circuit) or a rejected plan keeps the rules' plan: `plan_source`
says which was used, `fallbacks` and `flags` say why.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import HumanMessage
from langgraph.runtime import Runtime

from dealcast.config import get_settings
from dealcast.graph.context import Context
from dealcast.graph.llm_client import LLMUnavailable, llm_for
from dealcast.graph.llm_planner import plan_with_llm
from dealcast.graph.planning.llm_plan import PlanRejected
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
    stages = [s.name for s in store.stages.open_stages]
    fiscal = get_settings().fiscal_start_month
    planned = plan_request(
        text,
        directory,
        state.get("focus"),
        as_of=as_of,
        caller_id=ctx.user_id,
        stages=stages,
        fiscal_start_month=fiscal,
    )
    turn = int(state.get("turn") or 0) + 1
    source, flags, fallbacks = "rules", [], []
    llm = llm_for(ctx)
    if llm is not None:
        try:
            planned_llm, notes = await plan_with_llm(
                llm,
                text,
                directory,
                state.get("focus"),
                as_of=as_of,
                caller_id=ctx.user_id,
                stages=stages,
                fiscal_start_month=fiscal,
                rules=planned,
            )
        except (LLMUnavailable, PlanRejected) as exc:
            why = exc.reason if isinstance(exc, LLMUnavailable) else f"plan rejected: {exc}"
            flags.append(f"turn {turn}: planner: LLM not used ({why}); planned by the rules")
            fallbacks.append(f"planner: rules ({why})")
        else:
            planned, source = planned_llm, "llm"
            flags += [f"turn {turn}: planner (llm): {n}" for n in notes]
    results: dict[str, Any] = {RESET: True}
    if planned.reply is not None:
        reply = dict(planned.reply)
        if reply.get("candidates"):
            by_id = {d["id"]: d for d in directory["deals"]}
            reply["deals"] = [by_id[i] for i in reply["candidates"] if i in by_id]
        results["reply"] = {"ok": True, "kind": "reply", "output": reply}
    return {
        "request": text,
        "turn": turn,
        "intent": planned.intent,
        "plan": planned.plan,
        "plan_source": source,
        "fallbacks": fallbacks,
        "flags": flags,
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
