"""evaluator: every number and deal named in the answer must come from a tool output in
state (`graph.traceability`).

On failure of an LLM-written answer, the LLM is re-asked once with the evaluator's
complaint (`graph.narration.repair_messages`); a repaired answer that passes is kept
(flagged). Otherwise (a template answer, no LLM, the re-ask failing or still untraceable)
the answer is re-rendered from the templates and the turn is flagged; if even that fails
the check, the answer is marked partial.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.runtime import Runtime

from dealcast.graph.context import Context
from dealcast.graph.llm_client import LLMUnavailable, llm_for
from dealcast.graph.narration import narrate, repair_messages, with_partial
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
    fallbacks = list(state.get("fallbacks") or [])
    if state.get("answer_source") == "llm":
        llm = llm_for(ctx)
        why = "no LLM for the re-ask"
        if llm is not None:
            try:
                repaired = await narrate(llm, repair_messages(state, out.text, text, problems))
            except LLMUnavailable as exc:
                why = f"re-ask failed: {exc.reason}"
            else:
                repaired = with_partial(repaired, state.get("missing") or [])
                still = untraceable(repaired, outputs, names)
                if not still:
                    return {
                        "answer": repaired,
                        "answer_source": "llm",
                        "flags": [*flags, f"turn {turn}: evaluator: LLM answer repaired (re-ask)"],
                    }
                flags += [f"turn {turn}: evaluator (re-ask): {p}" for p in still]
                why = "re-asked answer still untraceable"
        fallbacks.append(f"evaluator: template ({why})")
    again = untraceable(out.text, outputs, names)
    update: dict[str, Any] = {
        "answer": out.text,
        "answer_source": "template",
        "data": out.data,
        "citations": out.citations,
        "flags": [*flags, f"turn {turn}: evaluator: answer re-rendered from the template"],
        "fallbacks": fallbacks,
    }
    if again:
        update["flags"] += [f"turn {turn}: evaluator (template): {p}" for p in again]
        update["partial"] = True
        update["missing"] = [*(state.get("missing") or []), "a fully traceable answer"]
    return update
