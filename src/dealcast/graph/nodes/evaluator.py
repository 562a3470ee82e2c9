"""evaluator: every number and deal named in the answer must come from a tool output in
state (`graph.traceability`). On failure the answer is re-rendered from the templates once
and the turn is flagged; if even that fails the check, the answer is marked partial."""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from dealcast.graph.context import Context
from dealcast.graph.state import AgentState
from dealcast.graph.templates import render
from dealcast.graph.traceability import untraceable
from dealcast.tools.deals import load_directory
from dealcast.tools.store import database_url, get_store, resolve_as_of


async def _deal_names(ctx: Context) -> list[str]:
    as_of = resolve_as_of(ctx.as_of)
    store = get_store(ctx.database_url)
    directory = await asyncio.to_thread(
        load_directory, store, as_of, database_url(ctx.database_url)
    )
    return [str(d["name"]) for d in directory["deals"]]


async def evaluator(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context or Context()
    results = state.get("results") or {}
    outputs = [r["output"] for r in results.values() if r.get("ok")]
    names = await _deal_names(ctx)
    text = state.get("answer") or ""
    problems = untraceable(text, outputs, names)
    if not problems:
        return {}
    turn = state.get("turn") or 0
    flags = [f"turn {turn}: evaluator: {p}" for p in problems]
    out = render(state.get("intent") or "help", state.get("plan") or [], results)
    again = untraceable(out.text, outputs, names)
    update: dict[str, Any] = {
        "answer": out.text,
        "answer_source": "template",
        "data": out.data,
        "citations": out.citations,
        "flags": [*flags, f"turn {turn}: evaluator: answer re-rendered from the template"],
    }
    if again:
        update["flags"] += [f"turn {turn}: evaluator (template): {p}" for p in again]
        update["partial"] = True
        update["missing"] = [*(state.get("missing") or []), "a fully traceable answer"]
    return update
