"""risk: detected risks with evidence for the subtask's deals."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from dealcast.graph.context import Context
from dealcast.graph.workers import WorkerInput, run_tool
from dealcast.tools.risks import deal_risks_impl


async def risk(state: WorkerInput, runtime: Runtime[Context]) -> dict[str, Any]:
    ids = state["task"]["args"]["deal_ids"]
    return await run_tool(
        state["task"], runtime, lambda store, as_of: deal_risks_impl(store, as_of, ids)
    )
