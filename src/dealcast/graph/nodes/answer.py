"""answer: the templated answer, its structured data and citations, from `results` only.

With an LLM (Context.use_llm and one configured) the text is then rewritten as prose by the
model around the same facts (`graph.narration`); data and citations stay the template's.
Any LLM failure keeps the template text, flagged. The evaluator checks either text.
"""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from dealcast.graph.context import Context
from dealcast.graph.llm_client import LLMUnavailable, llm_for
from dealcast.graph.narration import narrate, narration_messages, should_narrate, with_partial
from dealcast.graph.state import AgentState
from dealcast.graph.templates import missing_parts, render


async def answer(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context or Context()
    results = state.get("results") or {}
    plan = state.get("plan") or []
    out = render(state.get("intent") or "help", plan, results)
    missing = missing_parts(results, plan)
    update: dict[str, Any] = {
        "answer": out.text,
        "answer_source": "template",
        "data": out.data,
        "citations": out.citations,
        "partial": bool(missing),
        "missing": missing,
    }
    evidence_fallbacks = _evidence_fallbacks(results)
    if evidence_fallbacks:  # the evidence worker cannot write `fallbacks` itself
        update["fallbacks"] = [*(state.get("fallbacks") or []), *evidence_fallbacks]
    llm = llm_for(ctx)
    if llm is None or not should_narrate(state):
        return update
    try:
        text = await narrate(llm, narration_messages(state, out.text))
    except LLMUnavailable as exc:
        turn = state.get("turn") or 0
        update["flags"] = [f"turn {turn}: answer: LLM narration failed ({exc.reason}); template"]
        done = update.get("fallbacks", state.get("fallbacks") or [])
        update["fallbacks"] = [*done, f"answer: template ({exc.reason})"]
        return update
    update["answer"] = with_partial(text, missing)
    update["answer_source"] = "llm"
    return update


def _evidence_fallbacks(results: dict[str, Any]) -> list[str]:
    """The evidence subgraph's LLM fallbacks ("grade: LLM not used (...); rules"), from its
    tool output's notes, as this turn's fallbacks ("evidence: grade: ...")."""
    out: list[str] = []
    for result in results.values():
        if result.get("kind") != "evidence" or not result.get("ok"):
            continue
        notes = (result.get("output") or {}).get("notes") or []
        out += [f"evidence: {n}" for n in notes if "LLM not used" in str(n)]
    return out
