"""LLM narration: prose around the tool outputs of a turn, never a computed number.

The model gets the templated answer as <facts> (every number already formatted), the raw
tool outputs as JSON in <tool_outputs> (evidence quotes removed), and the CRM quotes behind
the risks as untrusted data (`sanitize_untrusted`, one <email>/<note> tag each). Its text
is checked by the evaluator node; `repair_messages` re-asks once with the complaint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from dealcast.graph.llm_client import LLM, LLMOutputError, call_llm
from dealcast.graph.llm_planner import prompt_json
from dealcast.graph.state import AgentState
from dealcast.prompts.narration import NARRATE_REPAIR, NARRATE_SYSTEM, NARRATE_USER
from dealcast.safety.sanitizer import sanitize_untrusted

MAX_OUTPUT_CHARS = 12_000  # raw outputs beyond this are left out (the facts suffice)
MAX_EVIDENCE = 12
MAX_QUOTE_CHARS = 300
PARTIAL = "Partial answer: could not compute "


def should_narrate(state: AgentState) -> bool:
    """Only answers computed by tools are narrated (help/clarify replies are templates)."""
    results = state.get("results") or {}
    return bool(state.get("plan")) and "reply" not in results


def _strip_quotes(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _strip_quotes(v) for k, v in value.items() if k != "quote"}
    if isinstance(value, list):
        return [_strip_quotes(v) for v in value]
    return value


def _evidence(results: Mapping[str, Any]) -> list[str]:
    out: list[str] = []
    for row in results.values():
        if not row.get("ok") or row.get("kind") != "risk":
            continue
        for deal in row["output"].get("deals", []):
            for risk in deal.get("risks", []):
                for e in risk.get("evidence", []):
                    if not e.get("quote") or len(out) >= MAX_EVIDENCE:
                        continue
                    tag = "email" if e.get("kind") == "email" else "note"
                    source = f"untrusted {e.get('kind')} {e.get('id')} {str(e.get('date'))[:10]}"
                    out.append(
                        sanitize_untrusted(
                            str(e["quote"]), tag, source=source, max_chars=MAX_QUOTE_CHARS
                        )
                    )
    return out


def narration_messages(state: AgentState, facts: str) -> list[BaseMessage]:
    results = state.get("results") or {}
    outputs = {k: _strip_quotes(r["output"]) for k, r in results.items() if r.get("ok")}
    raw = prompt_json(outputs)
    if len(raw) > MAX_OUTPUT_CHARS:
        raw = '"(too long: left out; use <facts>)"'
    user = NARRATE_USER.format(
        request=escape(str(state.get("request") or ""), quote=False),
        intent=escape(str(state.get("intent") or ""), quote=False),
        facts=escape(facts, quote=False),
        outputs=raw,
        evidence="\n".join(_evidence(results)) or "(none)",
    )
    return [SystemMessage(NARRATE_SYSTEM), HumanMessage(user)]


def repair_messages(
    state: AgentState, facts: str, rejected: str, problems: Sequence[str]
) -> list[BaseMessage]:
    complaint = NARRATE_REPAIR.format(problems=escape("\n".join(f"- {p}" for p in problems)))
    return [*narration_messages(state, facts), AIMessage(rejected), HumanMessage(complaint)]


def with_partial(text: str, missing: Sequence[str]) -> str:
    """The model's text, plus the partial-answer notice the template would carry."""
    if missing and PARTIAL not in text:
        text += "\n\n" + PARTIAL + "; ".join(missing) + "."
    return text


async def narrate(llm: LLM, messages: list[BaseMessage]) -> str:
    """The model's answer text (`LLMUnavailable` on any failure, an empty or refused
    reply included)."""

    async def ask() -> str:
        reply = await llm.chat.ainvoke(messages)
        if not isinstance(reply, AIMessage):
            raise LLMOutputError(f"unexpected {type(reply).__name__}")
        if reply.additional_kwargs.get("refusal"):
            raise LLMOutputError("refused")
        if reply.tool_calls or reply.invalid_tool_calls:
            raise LLMOutputError("a tool call instead of an answer")
        text = reply.content if isinstance(reply.content, str) else reply.text
        if not text.strip():
            raise LLMOutputError("empty answer")
        return text.strip()

    return await call_llm(llm, ask)
