"""Routing: which worker node runs each subtask kind, and which subtasks are ready.

A subtask is ready when it has no result yet and every subtask it depends on has one (an
error counts: the dependant runs without that input). Ready subtasks run in parallel, one
`Send` each; when none is left the answer is written.
"""

from __future__ import annotations

from langgraph.types import Send

from dealcast.graph.state import AgentState

NODE_FOR_KIND = {
    "refresh": "ingestion",
    "score": "scoring",
    "list_deals": "scoring",
    "risk": "risk",
    "forecast": "forecast",
    "scenario": "forecast",
    "changes": "forecast",
    "evidence": "evidence",
}
WORKERS = tuple(sorted(set(NODE_FOR_KIND.values())))


def route_ready(state: AgentState) -> list[Send] | str:
    results = state.get("results") or {}
    plan = state.get("plan") or []
    ready = [
        t for t in plan if t["id"] not in results and all(d in results for d in t["depends_on"])
    ]
    if not ready:
        if any(t["id"] not in results for t in plan):
            raise ValueError(
                "plan has subtasks that can never run (unknown or circular depends_on): "
                + ", ".join(t["id"] for t in plan if t["id"] not in results)
            )
        return "answer"
    return [
        Send(
            NODE_FOR_KIND[t["kind"]],
            {"task": t, "deps": {d: results[d] for d in t["depends_on"]}},
        )
        for t in ready
    ]
