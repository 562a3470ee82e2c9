"""The LLM planner: tool calling over the `Plan` schema and the `tools/` wrappers.

The model sees the request, today's date and the thread focus, and must call tools: either
`Plan` (intent + subtasks, `graph.planning.llm_plan`) or the data tools themselves
(`score_deals`, `forecast_period`, ...), which are mapped to the same `Plan`. The tool
calls are never executed here: the plan is validated (`resolve_plan`) and the graph's
worker nodes run it, so every number still comes from the tools. A missing, malformed or
refused tool call raises `LLMOutputError` inside the breaker-guarded call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from pydantic import ValidationError

from dealcast.graph.llm_client import LLM, LLMOutputError, call_llm
from dealcast.graph.planning.intents import DEAL_INTENTS, detect_intent
from dealcast.graph.planning.llm_plan import (
    Plan,
    PlanSubtask,
    ScenarioChange,
    SubtaskArgs,
    resolve_plan,
)
from dealcast.graph.planning.plans import Planned
from dealcast.prompts.agent import PLANNER_SYSTEM, PLANNER_USER
from dealcast.tools import TOOLS

TOOL_KIND = {
    "data_freshness": "refresh",
    "score_deals": "score",
    "deal_risks": "risk",
    "list_deals": "list_deals",
    "forecast_period": "forecast",
    "what_if": "scenario",
    "what_changed": "changes",
}


def prompt_json(value: Any) -> str:
    """JSON that cannot open or close a prompt tag."""
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e")


def planner_messages(
    text: str, focus: Mapping[str, Any] | None, directory: Mapping[str, Any], as_of: datetime
) -> list[BaseMessage]:
    focus = dict(focus or {})
    names = {str(d["id"]): str(d["name"]) for d in directory["deals"]}
    shown = {
        "deals": [{"id": i, "name": names.get(i)} for i in focus.get("deal_ids") or []],
        "period": focus.get("period"),
        "intent": focus.get("intent"),
    }
    user = PLANNER_USER.format(
        today=as_of.date().isoformat(),
        focus=prompt_json(shown),
        request=escape(text, quote=False),
    )
    return [SystemMessage(PLANNER_SYSTEM), HumanMessage(user)]


def _subtask_from_tool(name: str, args: Mapping[str, Any]) -> PlanSubtask:
    kind = TOOL_KIND[name]
    a: dict[str, Any] = {}
    if kind in ("score", "risk"):
        a["deals"] = [str(x) for x in args.get("deal_ids") or []]
    elif kind == "list_deals":
        a |= {
            "reps": [str(x) for x in args.get("owner_ids") or []],
            "stage": args.get("stage"),
            "category": args.get("category"),
        }
    elif kind == "forecast":
        manager = args.get("manager_id")
        a |= {
            "period": args.get("label"),
            "reps": [str(manager)] if manager else [str(x) for x in args.get("owner_ids") or []],
            "team": bool(manager),
        }
    elif kind == "changes":
        a |= {"period": args.get("label"), "since": args.get("since")}
    elif kind == "scenario":
        changes = args.get("changes") or []
        if not changes or not isinstance(changes[0], Mapping):
            raise LLMOutputError("what_if without a change")
        c = dict(changes[0])
        prob = c.get("probability")
        a["change"] = ScenarioChange(
            op=c.get("op"),
            close_date=c.get("close_date"),
            amount=c.get("amount"),
            probability=None if prob is None else float(prob) * 100,  # the tool takes 0-1
            stage=c.get("stage"),
        )
        a["deals"] = [str(c["deal"])] if c.get("deal") else []
        a["reps"] = [str(c["owner"])] if c.get("owner") else []
    return PlanSubtask(id=kind, kind=kind, args=SubtaskArgs(**a))


def _intent_from_kinds(kinds: set[str], text: str) -> str:
    for kind, intent in (
        ("scenario", "what_if"),
        ("changes", "changes"),
        ("forecast", "forecast"),
        ("list_deals", "list_deals"),
    ):
        if kind in kinds:
            return intent
    said = detect_intent(text)
    if kinds & {"risk", "score"}:
        if said in DEAL_INTENTS:
            return said
        return "deal_risk" if "risk" in kinds else "deal_explain"
    if "refresh" in kinds:
        return "refresh"
    return "help"


def plan_from_message(message: BaseMessage, text: str) -> Plan:
    """The plan in the model's tool calls (LLMOutputError when there is none usable)."""
    if not isinstance(message, AIMessage):
        raise LLMOutputError(f"unexpected {type(message).__name__}")
    refusal = message.additional_kwargs.get("refusal")
    if refusal:
        raise LLMOutputError(f"refused: {str(refusal)[:80]}")
    if message.invalid_tool_calls:
        bad = message.invalid_tool_calls[0]
        raise LLMOutputError(f"malformed tool call {bad.get('name')!r}: {bad.get('error')}")
    calls = message.tool_calls
    if not calls:
        raise LLMOutputError("no tool call in the reply")
    try:
        for call in calls:
            if call["name"] == "Plan":
                return Plan.model_validate(call["args"])
        unknown = [c["name"] for c in calls if c["name"] not in TOOL_KIND]
        if unknown:
            raise LLMOutputError(f"unknown tool(s) {', '.join(unknown)}")
        subtasks: dict[str, PlanSubtask] = {}
        for call in calls:
            sub = _subtask_from_tool(call["name"], call["args"])
            if sub.kind in subtasks:  # the same tool twice: merge the deals
                merged = [*subtasks[sub.kind].args.deals, *sub.args.deals]
                subtasks[sub.kind].args.deals = list(dict.fromkeys(merged))
            else:
                subtasks[sub.kind] = sub
    except ValidationError as exc:
        raise LLMOutputError(
            f"tool arguments do not fit the schema: {exc.error_count()} error(s)"
        ) from exc
    if "risk" in subtasks and "score" in subtasks:
        subtasks["score"].depends_on = ["risk"]
    return Plan(
        intent=_intent_from_kinds(set(subtasks), text),
        subtasks=list(subtasks.values()),
    )


async def plan_with_llm(
    llm: LLM,
    text: str,
    directory: Mapping[str, Any],
    focus: Mapping[str, Any] | None,
    *,
    as_of: datetime,
    caller_id: str | None,
    stages: Sequence[str],
    fiscal_start_month: int,
    rules: Planned,
) -> tuple[Planned, list[str]]:
    """The validated LLM plan and its notes. Raises `LLMUnavailable` (any LLM failure) or
    `PlanRejected` (a well-formed plan the graph cannot use)."""
    messages = planner_messages(text, focus, directory, as_of)
    bound = llm.chat.bind_tools([Plan, *TOOLS], tool_choice="required")

    async def ask() -> Plan:
        reply = await bound.ainvoke(messages)
        return plan_from_message(reply, text)

    plan = await call_llm(llm, ask)
    return resolve_plan(
        plan,
        text,
        directory,
        focus,
        as_of=as_of,
        caller_id=caller_id,
        stages=stages,
        fiscal_start_month=fiscal_start_month,
        rules=rules,
    )
