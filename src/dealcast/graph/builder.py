"""The only place the graph is wired. `build_graph()` returns the UNCOMPILED builder;
tests, the server and Studio compile it with their own checkpointer.

    START -> planner -> dispatch --route_ready--> Send(ingestion|scoring|risk|forecast|evidence)
                           ^                            |
                           +----------------------------+   (waves until the plan is done)
             dispatch --"answer"--> answer -> evaluator -> guardrail -> END

Workers are async with a hard per-attempt timeout (TimeoutPolicy) and a RetryPolicy
(exponential backoff with jitter, 3 attempts, explicit transient `retry_on`); once retries
are exhausted their error handler records the failure so the run still answers (partial).
The soft per-call timeout is `Context.node_timeout_s` (see `graph.workers`).
"""

from __future__ import annotations

from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy, TimeoutPolicy

from dealcast.graph.context import Context
from dealcast.graph.nodes.answer import answer
from dealcast.graph.nodes.dispatch import dispatch
from dealcast.graph.nodes.evaluator import evaluator
from dealcast.graph.nodes.evidence import evidence
from dealcast.graph.nodes.forecast import forecast
from dealcast.graph.nodes.guardrail import guardrail
from dealcast.graph.nodes.ingestion import ingestion
from dealcast.graph.nodes.planner import planner
from dealcast.graph.nodes.risk import risk
from dealcast.graph.nodes.scoring import scoring
from dealcast.graph.routing import WORKERS, route_ready
from dealcast.graph.state import AgentState
from dealcast.graph.workers import record_failure
from dealcast.tools.errors import TRANSIENT_ERRORS

HARD_TIMEOUT_S = 60.0  # backstop per node attempt; the soft timeout is in the Context


def transient_retry(max_attempts: int = 3, initial_interval: float = 0.5) -> RetryPolicy:
    return RetryPolicy(
        initial_interval=initial_interval,
        backoff_factor=2.0,
        max_attempts=max_attempts,
        jitter=True,
        retry_on=TRANSIENT_ERRORS,
    )


def build_graph(
    *, retry: RetryPolicy | None = None, hard_timeout_s: float = HARD_TIMEOUT_S
) -> StateGraph[AgentState, Context, AgentState, AgentState]:
    retry = retry or transient_retry()
    timeout = TimeoutPolicy(run_timeout=hard_timeout_s)
    g: StateGraph[AgentState, Context, AgentState, AgentState] = StateGraph(
        AgentState, context_schema=Context
    )
    g.add_node("planner", planner, retry_policy=retry, timeout=timeout)
    g.add_node("dispatch", dispatch)
    workers = {
        "ingestion": ingestion,
        "scoring": scoring,
        "risk": risk,
        "forecast": forecast,
        "evidence": evidence,
    }
    assert set(workers) == set(WORKERS), "routing and builder disagree on the worker nodes"
    for name, node in workers.items():
        g.add_node(name, node, retry_policy=retry, timeout=timeout, error_handler=record_failure)
    g.add_node("answer", answer)
    g.add_node("evaluator", evaluator, retry_policy=retry, timeout=timeout)
    g.add_node("guardrail", guardrail, timeout=timeout)
    g.add_edge(START, "planner")
    g.add_edge("planner", "dispatch")
    g.add_conditional_edges("dispatch", route_ready, [*WORKERS, "answer"])
    for name in WORKERS:
        g.add_edge(name, "dispatch")
    g.add_edge("answer", "evaluator")
    g.add_edge("evaluator", "guardrail")
    g.add_edge("guardrail", END)
    return g
