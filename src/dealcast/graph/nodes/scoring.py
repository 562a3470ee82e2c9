"""scoring: win probabilities, factors and actions (`score`), or a deal listing
(`list_deals`)."""

from __future__ import annotations

from typing import Any

from langgraph.runtime import Runtime

from dealcast.graph.context import Context
from dealcast.graph.workers import WorkerInput, run_tool
from dealcast.tools.deals import list_deals_impl, load_directory, score_deals_impl


async def scoring(state: WorkerInput, runtime: Runtime[Context]) -> dict[str, Any]:
    task = state["task"]
    args = task["args"]
    if task["kind"] == "list_deals":
        return await run_tool(
            task,
            runtime,
            lambda store, as_of: list_deals_impl(
                load_directory(store, as_of),
                args.get("owner_ids"),
                args.get("stage"),
                args.get("category"),
            ),
        )
    risks = None
    source = state["deps"].get(args.get("risks_from") or "")
    if source and source.get("ok"):
        risks = {d["opportunity_id"]: d["risks"] for d in source["output"]["deals"]}
    return await run_tool(
        task, runtime, lambda store, as_of: score_deals_impl(store, as_of, args["deal_ids"], risks)
    )
