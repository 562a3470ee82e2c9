"""Shared machinery of the worker nodes: run one tool call off the event loop with the
run's timeout, and record its output or its error under the subtask id.

Errors by kind:
- transient (`tools.errors.TRANSIENT_ERRORS`) propagate so the node's RetryPolicy retries
  them; once retries are exhausted the node's error handler (`record_failure`) records them;
- a timeout (Context.node_timeout_s) is recorded at once (a retry would most likely time
  out again and triple the wait);
- anything else the tool raises (ValueError for bad values, a failing library call) is
  recorded as the subtask's error text: the run continues and the answer is partial.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypedDict

from langgraph.errors import NodeError
from langgraph.runtime import Runtime
from langgraph.types import Command

from dealcast.crm.store import Store
from dealcast.graph.context import Context
from dealcast.graph.state import Subtask
from dealcast.graph.testing_hooks import delay_task
from dealcast.tools.errors import is_transient
from dealcast.tools.store import get_store, resolve_as_of

log = logging.getLogger(__name__)


class WorkerInput(TypedDict):
    """What `routing.dispatch` sends a worker: its subtask and the results it depends on."""

    task: Subtask
    deps: dict[str, dict[str, Any]]


def ok_result(task: Subtask, output: Any) -> dict[str, Any]:
    return {"results": {task["id"]: {"ok": True, "kind": task["kind"], "output": output}}}


def error_result(task: Subtask, error: str) -> dict[str, Any]:
    return {"results": {task["id"]: {"ok": False, "kind": task["kind"], "error": error}}}


def describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if isinstance(exc, ValueError) else f"{type(exc).__name__}: {text}"


async def run_tool(
    task: Subtask,
    runtime: Runtime[Context],
    call: Callable[[Store, datetime], Any],
) -> dict[str, Any]:
    """`call(store, as_of)` in a worker thread within the run's timeout -> state update."""
    ctx = runtime.context or Context()
    as_of = resolve_as_of(ctx.as_of)

    def work() -> Any:
        return call(get_store(ctx.database_url), as_of)

    await delay_task(task["kind"])  # test-only, off unless DEALCAST_TEST_TASK_DELAY is set
    try:
        output = await asyncio.wait_for(asyncio.to_thread(work), timeout=ctx.node_timeout_s)
    except TimeoutError:
        # the thread cannot be killed; it finishes in the background and its result is dropped
        return error_result(task, f"timed out after {ctx.node_timeout_s:g}s")
    except Exception as exc:
        if is_transient(exc):
            raise
        if not isinstance(exc, ValueError):
            log.exception("tool %s failed", task["kind"])
        return error_result(task, describe(exc))
    return ok_result(task, output)


def record_failure(state: WorkerInput, error: NodeError) -> Command[Any]:
    """Error handler of every worker: retries exhausted (or the hard node timeout hit) ->
    the subtask's error is recorded and the run goes back to dispatch (a handler does not
    follow the failed node's edges, so it must say where to go)."""
    task = state["task"]
    return Command(update=error_result(task, describe(error.error)), goto="dispatch")
