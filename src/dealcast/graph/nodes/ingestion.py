"""ingestion: how fresh and how good the stored data is, after a Salesforce sync when the
user asked for one (`args.sync`) or the synced data is stale."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from dealcast.graph.context import Context
from dealcast.graph.workers import WorkerInput, run_tool
from dealcast.tools.ingestion import refresh_data_impl


async def ingestion(state: WorkerInput, runtime: Runtime[Context]) -> dict[str, Any]:
    asked = bool(state["task"]["args"].get("sync"))
    return await run_tool(
        state["task"], runtime, lambda store, as_of: refresh_data_impl(store, as_of, asked=asked)
    )
