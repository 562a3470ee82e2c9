"""answer: the templated answer, its structured data and citations, from `results` only."""

from __future__ import annotations

from typing import Any

from dealcast.graph.state import AgentState
from dealcast.graph.templates import missing_parts, render


def answer(state: AgentState) -> dict[str, Any]:
    results = state.get("results") or {}
    plan = state.get("plan") or []
    out = render(state.get("intent") or "help", plan, results)
    missing = missing_parts(results, plan)
    return {
        "answer": out.text,
        "answer_source": "template",
        "data": out.data,
        "citations": out.citations,
        "partial": bool(missing),
        "missing": missing,
    }
