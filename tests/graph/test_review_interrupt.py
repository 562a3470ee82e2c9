"""Human review through the compiled graph (Context.review_interrupt): an answer that needs
review pauses in the guardrail with its payload; resuming releases, withholds or keeps a
block, runs only the rest of the guardrail (no worker re-runs) and leaves a consistent
thread. Who may resume over the API: tests/integration/test_server_resume.py."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command

from dealcast.graph.nodes import scoring as scoring_node
from dealcast.prompts.agent import REFUSAL, REVIEW_WITHHELD
from dealcast.tools.store import get_store
from tests.graph.conftest import CAMILLE, Chat, context

KEYSTONE = "006L000000000ECIAY"  # Camille's; rule-based score: confidence 50 < 70
REDWOOD = "006L0000000009AIAQ"  # Patrick Jackson's: Camille may not see it


@pytest.fixture
def score_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Every scoring tool call of the test (the deals it scored)."""
    calls: list[tuple[str, ...]] = []
    real = scoring_node.score_deals_impl

    def counting(store: Any, as_of: Any, deal_ids: Any, *a: Any, **k: Any) -> Any:
        calls.append(tuple(deal_ids))
        return real(store, as_of, deal_ids, *a, **k)

    monkeypatch.setattr(scoring_node, "score_deals_impl", counting)
    return calls


def held(chat: Chat, text: str) -> tuple[dict[str, Any], Any]:
    """Ask and expect the turn to pause for review: (the state so far, the snapshot)."""

    async def run() -> tuple[dict[str, Any], Any]:
        out = await chat.aask(text)
        return out, await chat.graph.aget_state(chat.config)

    out, snap = asyncio.run(run())
    assert "__interrupt__" in out, "the turn should have paused for review"
    return out, snap


def resume(chat: Chat, decision: Any) -> tuple[dict[str, Any], Any]:
    async def run() -> tuple[dict[str, Any], Any]:
        out = await chat.graph.ainvoke(Command(resume=decision), chat.config, context=chat.ctx)
        return out, await chat.graph.aget_state(chat.config)

    return asyncio.run(run())


def reviewing(org_url: str, thread: str, **kw: Any) -> Chat:
    return Chat(context(org_url, review_interrupt=True, **kw), thread=thread)


def test_low_confidence_pauses_and_approval_releases_it(
    org_url: str, score_calls: list[tuple[str, ...]]
) -> None:
    chat = reviewing(org_url, "approve")
    _, snap = held(chat, f"explain the score of {KEYSTONE}")
    assert snap.next == ("guardrail",) and len(snap.interrupts) == 1
    payload = snap.interrupts[0].value
    assert set(payload) == {"answer", "reasons", "blocked"} and payload["blocked"] is False
    assert payload["reasons"] == [f"score confidence below 70: {KEYSTONE}"]
    assert "Keystonepoint" in payload["answer"] and "Win probability" in payload["answer"]
    assert isinstance(snap.values["messages"][-1], HumanMessage)  # nothing said yet
    results = snap.values["results"]
    assert score_calls == [(KEYSTONE,)]

    final, after = resume(chat, {"approved": True})
    assert after.next == () and not after.interrupts
    assert final["answer"] == payload["answer"]
    assert final["data"]["deals"][0]["opportunity_id"] == KEYSTONE and final["citations"]
    assert final["needs_review"] and final["review_reasons"] == payload["reasons"]
    assert not final["blocked"]
    last = final["messages"][-1]
    assert isinstance(last, AIMessage) and last.content == payload["answer"]
    assert [type(m) for m in final["messages"]] == [HumanMessage, AIMessage]
    assert "turn 1: review: approved" in final["flags"]
    assert final["turn"] == 1 and final["results"] == results  # planner and workers not re-run
    assert score_calls == [(KEYSTONE,)]

    nxt = chat.ask("is the data fresh?")  # the thread carries on after a review
    assert nxt["turn"] == 2 and len(nxt["messages"]) == 4


# Command(resume=None) and Command(resume={}) are not decisions to LangGraph 1.2 (the first
# raises inside LangGraph, the second is read as an empty map of interrupt ids)
@pytest.mark.parametrize(
    "decision", [{"approved": False}, "yes", {"approved": "yes"}, {"approved": None}]
)
def test_rejected_or_unclear_decision_withholds_the_answer(
    org_url: str, score_calls: list[tuple[str, ...]], decision: Any
) -> None:
    chat = reviewing(org_url, f"reject-{decision!r}")
    _, snap = held(chat, f"explain the score of {KEYSTONE}")
    final, after = resume(chat, decision)
    assert after.next == () and not after.interrupts
    assert final["answer"] == REVIEW_WITHHELD
    assert final["data"] == {} and final["citations"] == []
    assert final["messages"][-1].content == REVIEW_WITHHELD
    assert KEYSTONE not in str(final["messages"][-1].content)
    assert "turn 1: review: rejected" in final["flags"]
    assert final["needs_review"] and final["review_reasons"] == snap.interrupts[0].value["reasons"]
    assert len(score_calls) == 1


@pytest.mark.parametrize("approved", [True, False])
def test_a_blocked_answer_stays_blocked_and_is_audited_once(org_url: str, approved: bool) -> None:
    store = get_store(org_url)
    audited = len(store.audit_entries(action="chat_answer_blocked"))
    rep = reviewing(org_url, f"blocked-{approved}", user_id=CAMILLE, role="rep")
    _, snap = held(rep, f"explain the score of {REDWOOD}")
    payload = snap.interrupts[0].value
    assert payload["blocked"] is True and payload["answer"] == REFUSAL
    assert "answer blocked by the guardrail" in payload["reasons"]
    assert REDWOOD not in str(payload)  # the reviewer is not shown the unguarded text
    assert len(store.audit_entries(action="chat_answer_blocked")) == audited  # not yet

    final, _ = resume(rep, {"approved": approved})
    assert final["blocked"] and final["data"] == {} and final["citations"] == []
    assert final["answer"] == (REFUSAL if approved else REVIEW_WITHHELD)
    assert REDWOOD not in final["answer"] and REDWOOD not in str(final["review_reasons"])
    entries = store.audit_entries(action="chat_answer_blocked")
    assert len(entries) == audited + 1 and entries[-1].actor == CAMILLE


def test_no_pause_without_a_reason_or_without_the_setting(org_url: str) -> None:
    quiet = reviewing(org_url, "quiet").ask("what changed since last week?")
    assert "__interrupt__" not in quiet and not quiet["needs_review"], quiet["review_reasons"]
    assert quiet["messages"][-1].content == quiet["answer"]
    off = Chat(context(org_url), thread="off").ask(f"explain the score of {KEYSTONE}")
    assert "__interrupt__" not in off and off["needs_review"]  # flagged, not held
    assert "Keystonepoint" in off["answer"]
