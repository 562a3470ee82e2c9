"""guardrail: last node before output. Enforces the caller's visibility and redacts PII
(`dealcast.safety.guard_output`), decides whether the answer needs human review, and
writes the final assistant message.

- Blocked (the text names a deal or owner the caller may not see, or the guard failed):
  the answer is replaced by a refusal and the block is audited (`chat_answer_blocked`).
  Any error while building the caller's visibility counts as a guard failure (fail-safe:
  the unguarded answer is never returned).
- needs_review: a deal scored with confidence < 70, data quality < 90, or a block.
- Human review: only when `Context.review_interrupt` is set, the node pauses with
  `interrupt({"answer", "reasons", "blocked"})`; resume with `Command(resume={"approved":
  bool})`; anything but an explicit `True` counts as rejected. Rejected -> the answer is
  withheld; approving a blocked answer never releases the unguarded text (the refusal
  stays). The block is audited once, after the decision (a paused node re-runs on
  resume). Without it the answer is returned with `needs_review: true`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.config import get_config
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from dealcast.crm.store import Store
from dealcast.graph.context import Context
from dealcast.graph.state import AgentState
from dealcast.prompts.agent import GUARD_FAILED, REFUSAL, REVIEW_WITHHELD
from dealcast.tools.cache import AsOfCache
from dealcast.tools.store import database_url, get_store, resolve_as_of

log = logging.getLogger(__name__)
REVIEW_CONFIDENCE = 70.0
REVIEW_QUALITY = 90.0


# per caller, cached per (database, data version, hour) like the tools' outputs
GUARD_INPUTS: AsOfCache[tuple[Any, Any, Any]] = AsOfCache("guard inputs", maxsize=64)


def _guard_inputs(store: Store, as_of: datetime, user_id: str, role: str, url: str) -> Any:
    from dealcast.safety import Caller, Visibility, contact_names_split, pii_policy_for

    def build(t: datetime) -> tuple[Any, Any, Any]:
        caller = Caller(user_id, role)
        snap = store.as_of(t)
        deals = snap.opportunities()[["Id", "OwnerId", "Name"]]
        visibility = Visibility.from_users(snap.users(), caller, deals)
        everyone, visible = contact_names_split(visibility, snap.contacts(), snap.contact_roles())
        return caller, visibility, pii_policy_for(caller, everyone, visible)

    return GUARD_INPUTS.get(store, as_of, (user_id, role), build)


def _guard(ctx: Context, text: str, data: Any, citations: list[Any]) -> Any:
    from dealcast.safety import guard_output

    as_of = resolve_as_of(ctx.as_of)
    store = get_store(ctx.database_url)
    caller, visibility, policy = _guard_inputs(
        store, as_of, ctx.user_id or "", ctx.role, database_url(ctx.database_url)
    )
    return guard_output(text, data, citations, caller, visibility, policy)


def review_reasons(state: AgentState) -> list[str]:
    reasons = []
    results = state.get("results") or {}
    score = results.get("score")
    if score and score.get("ok"):
        low = [
            d["opportunity_id"]
            for d in score["output"]["deals"]
            if d.get("confidence") is not None and d["confidence"] < REVIEW_CONFIDENCE
        ]
        if low:
            reasons.append(f"score confidence below {REVIEW_CONFIDENCE:g}: {', '.join(low)}")
    refresh = results.get("refresh")
    if refresh and refresh.get("ok"):
        quality = refresh["output"].get("quality_score")
        if quality is not None and quality < REVIEW_QUALITY:
            reasons.append(f"data quality {quality} below {REVIEW_QUALITY:g}")
    return reasons


def _thread_id() -> str:
    try:
        return str(get_config().get("configurable", {}).get("thread_id") or "")
    except RuntimeError:
        return ""


async def guardrail(state: AgentState, runtime: Runtime[Context]) -> dict[str, Any]:
    ctx = runtime.context or Context()
    text = state.get("answer") or ""
    data = state.get("data") or {}
    citations = list(state.get("citations") or [])
    turn = state.get("turn") or 0
    try:
        result = await asyncio.wait_for(
            asyncio.to_thread(_guard, ctx, text, data, citations), timeout=ctx.node_timeout_s
        )
        blocked, reasons = bool(result.blocked), list(result.reasons)
        failed = any(r.startswith("guardrail error") for r in reasons)
    except Exception as exc:  # fail-safe: anything going wrong blocks the answer
        log.exception("guardrail could not run; answer blocked")
        blocked, failed, reasons, result = (
            True,
            True,
            [f"guardrail error: {type(exc).__name__}"],
            None,
        )
    review = review_reasons(state)
    if blocked:  # the reasons reach the caller and reviewers: name no deal the answer hid
        review = [r.split(":")[0] for r in review] + ["answer blocked by the guardrail"]
    final_text = (GUARD_FAILED if failed else REFUSAL) if blocked else result.text
    final_data = {} if blocked else result.data
    final_citations = [] if blocked else list(result.citations)
    flags = [f"turn {turn}: guardrail: {r}" for r in reasons]
    if ctx.review_interrupt and review:
        decision = interrupt({"answer": final_text, "reasons": review, "blocked": blocked})
        # only an explicit approval releases: "no", {"approved": "false"} or None withhold
        approved = (decision.get("approved") if isinstance(decision, dict) else decision) is True
        flags.append(f"turn {turn}: review: {'approved' if approved else 'rejected'}")
        if not approved:
            final_text, final_data, final_citations = REVIEW_WITHHELD, {}, []
    if blocked:
        await asyncio.to_thread(_audit_block, ctx, turn, reasons, state.get("intent"))
    return {
        "answer": final_text,
        "data": final_data,
        "citations": final_citations,
        "blocked": blocked,
        "needs_review": bool(review),
        "review_reasons": review,
        "flags": flags,
        "messages": [AIMessage(content=final_text)],
    }


def _audit_block(ctx: Context, turn: int, reasons: list[str], intent: str | None) -> None:
    try:
        get_store(ctx.database_url).record_audit(
            actor=ctx.user_id or "anonymous",
            action="chat_answer_blocked",
            subject=f"thread {_thread_id() or '-'} turn {turn}",
            outputs={"reasons": reasons, "intent": intent, "role": ctx.role},
        )
    except Exception:  # the answer is already withheld; a failed audit must not undo that
        log.exception("could not audit a blocked chat answer")
