"""ingestion: how fresh and how good the stored data is (no CRM sync is started yet)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from dealcast.graph.context import Context
from dealcast.graph.workers import WorkerInput, run_tool
from dealcast.tools.ingestion import data_freshness_impl


async def ingestion(state: WorkerInput, runtime: Runtime[Context]) -> dict[str, Any]:
    return await run_tool(state["task"], runtime, data_freshness_impl)
