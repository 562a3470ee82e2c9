"""The one typed state every node shares: raw records and numbers, never prompt text.

Per turn the planner resets the per-turn keys (results, answer, data, citations, partial,
missing, needs_review, fallbacks); `messages`, `focus` and `flags` carry across the thread.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

RESET = "__reset__"  # a `results` update holding this key replaces instead of merging


class Subtask(TypedDict):
    id: str  # unique in the plan, e.g. "risk", "score"
    kind: str  # see SUBTASK_KINDS
    args: dict[str, Any]
    depends_on: list[str]  # ids whose results this one reads


SUBTASK_KINDS = (
    "refresh",
    "score",
    "risk",
    "list_deals",
    "forecast",
    "scenario",
    "changes",
    "evidence",
)


class Focus(TypedDict, total=False):
    """What the last turn was about, so follow-ups ("and what should I do about it?") resolve."""

    deal_ids: list[str]
    period: str | None  # a period label: 2026-Q3, 2026-07, 2026-W27
    period_kind: str | None
    owner_ids: list[str]
    manager_id: str | None
    intent: str | None
    candidates: list[str]  # deal ids offered when a name was ambiguous


def merge_results(
    left: dict[str, dict[str, Any]] | None, right: dict[str, dict[str, Any]] | None
) -> dict[str, dict[str, Any]]:
    """Merge tool outputs keyed by subtask id; an update holding RESET starts over."""
    right = right or {}
    if RESET in right:
        return {k: v for k, v in right.items() if k != RESET}
    return {**(left or {}), **right}


class AgentState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    request: str  # the user's text this turn
    turn: int
    intent: str  # the planner's reading of this turn (see planning.intents.INTENTS)
    plan: list[Subtask]
    plan_source: str  # "rules" or "llm"
    # raw tool outputs by subtask id: {"ok": True, "output": {...}} or {"ok": False, "error"}
    results: Annotated[dict[str, dict[str, Any]], merge_results]
    focus: Focus
    answer: str
    answer_source: str  # "template" or "llm"
    data: dict[str, Any]  # structured answer (numbers and records from results)
    citations: list[dict[str, Any]]  # {"kind": "deal"|"email"|..., "id", "date"}
    partial: bool
    missing: list[str]  # what could not be computed (subtask kinds + reason)
    needs_review: bool
    review_reasons: list[str]
    blocked: bool
    flags: Annotated[list[str], operator.add]  # audit trail of the thread: "turn N: ..."
    # this turn's LLM fallbacks ("planner: ...", "answer: ...", "evaluator: ..."); empty when
    # the LLM was not asked or every LLM step succeeded
    fallbacks: list[str]
