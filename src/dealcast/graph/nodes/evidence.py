"""evidence: quoted, dated CRM passages for a question (`tools.evidence`, which runs the
agentic retrieval subgraph `rag.agentic` in the worker thread).

The caller's user id and role (Context) go into the search filter; the risks and score
factors this subtask depends on are passed as tool outputs (they become the query of a
"why at risk" search and count as support in the grounding check). With Context.use_llm and
an LLM configured, grading, rewriting and answering ask the model: the subgraph runs in a
worker thread, so each question is sent to this event loop (where the graph's ChatOpenAI
lives) and awaited there; any LLM failure falls back to the rules inside the subgraph.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.runtime import Runtime

from dealcast.graph.context import Context
from dealcast.graph.llm_client import LLM, LLMUnavailable, llm_for
from dealcast.graph.narration import narrate
from dealcast.graph.workers import WorkerInput, run_tool
from dealcast.rag.grading import Ask, AskFailed
from dealcast.tools.evidence import search_evidence_impl


def loop_asker(llm: LLM, loop: asyncio.AbstractEventLoop) -> Ask:
    """A blocking (system, user) -> text call for the worker thread, run on `loop`."""

    def ask(system: str, user: str) -> str:
        messages = [SystemMessage(system), HumanMessage(user)]
        future = asyncio.run_coroutine_threadsafe(narrate(llm, messages), loop)
        try:
            return future.result(timeout=llm.timeout_s + 5.0)
        except LLMUnavailable as exc:
            raise AskFailed(exc.reason) from exc
        except TimeoutError as exc:
            future.cancel()
            raise AskFailed("timed out") from exc

    return ask


async def evidence(state: WorkerInput, runtime: Runtime[Context]) -> dict[str, Any]:
    task = state["task"]
    args = task["args"]
    ctx = runtime.context or Context()
    outputs = [r["output"] for r in state["deps"].values() if r.get("ok")]
    mode = args.get("mode") or "auto"
    llm = llm_for(ctx) if mode == "auto" else None
    ask = loop_asker(llm, asyncio.get_running_loop()) if llm is not None else None
    return await run_tool(
        task,
        runtime,
        lambda store, as_of: search_evidence_impl(
            store,
            as_of,
            args.get("question"),
            user_id=ctx.user_id,
            role=ctx.role,
            deal_ids=args.get("deal_ids") or [],
            owner_ids=args.get("owner_ids") or [],
            tool_outputs=outputs,
            ask=ask,
            mode=mode,
        ),
    )
