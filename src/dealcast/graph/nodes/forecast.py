"""forecast: a period's Monte Carlo forecast (`forecast`), a what-if beside the baseline
(`scenario`) or a what-changed waterfall (`changes`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from langgraph.runtime import Runtime

from dealcast.graph.context import Context
from dealcast.graph.workers import WorkerInput, run_tool
from dealcast.tools.forecast import forecast_period_impl, what_changed_impl, what_if_impl


async def forecast(state: WorkerInput, runtime: Runtime[Context]) -> dict[str, Any]:
    task = state["task"]
    args = task["args"]
    ctx = runtime.context or Context()
    if task["kind"] == "forecast":
        return await run_tool(
            task,
            runtime,
            lambda store, as_of: forecast_period_impl(
                store,
                as_of,
                args["kind"],
                args["label"],
                owner_ids=args.get("owner_ids") or (),
                manager_id=args.get("manager_id"),
                seed=ctx.seed,
                n_sims=ctx.n_sims,
            ),
        )
    if task["kind"] == "scenario":
        return await run_tool(
            task,
            runtime,
            lambda store, as_of: what_if_impl(
                store,
                as_of,
                args["changes"],
                args["kind"],
                args["label"],
                seed=ctx.seed,
                n_sims=ctx.n_sims,
            ),
        )
    since = datetime.fromisoformat(args["since"]) if args.get("since") else None
    return await run_tool(
        task, runtime, lambda store, as_of: what_changed_impl(store, as_of, args["label"], since)
    )
