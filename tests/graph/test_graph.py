"""The graph end to end on the demo org without an LLM: intents, a multi-turn thread on
AsyncSqliteSaver, recovery (failing tool, transient retry), evaluator and guardrail."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage

from dealcast.graph.builder import transient_retry
from dealcast.graph.checkpoint import open_checkpointer
from dealcast.graph.traceability import untraceable
from dealcast.prompts.agent import GUARD_FAILED, REFUSAL
from dealcast.tools.errors import TransientToolError
from dealcast.tools.store import get_store
from tests.graph.conftest import CAMILLE, Chat, context

KEYSTONE = "006L000000000ECIAY"  # Keystonepoint - New Business (325 seats), Camille's
REDWOOD = "006L0000000009AIAQ"  # Redwoodport ... FY25, Patrick Jackson's


def outputs(state: dict) -> list:
    return [r["output"] for r in state["results"].values() if r.get("ok")]


def test_multi_turn_thread_on_sqlite_checkpointer(
    org_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def run() -> list[dict]:
        async with open_checkpointer(str(tmp_path / "threads.db")) as saver:
            chat = Chat(context(org_url), saver)
            states = [await chat.aask("why is Keystonepoint at risk?")]
            # the detectors take seconds: replay turn 1's risks for turn 2 (same as of T)
            first = states[0]["results"]["risk"]["output"]
            monkeypatch.setattr("dealcast.graph.nodes.risk.deal_risks_impl", lambda *a: first)
            states.append(await chat.aask("and what should I do about it?"))
            states.append(await chat.aask("explain this score"))
            states.append(await chat.aask("what's our Q3 commit?"))
            states.append(await chat.aask("and next quarter?"))
        # a new process would reopen the same file: the thread is all there
        async with open_checkpointer(str(tmp_path / "threads.db")) as saver:
            again = Chat(context(org_url), saver)
            snap = await again.graph.aget_state(again.config)
            states.append(dict(snap.values))
        return states

    risk, actions, explain, commit, nxt, reloaded = asyncio.run(run())
    assert risk["intent"] == "deal_risk" and not risk["partial"]
    assert "Keystonepoint - New Business (325 seats)" in risk["answer"]
    assert re.search(r"risk\(s\) found|No risks found", risk["answer"])
    assert {"kind": "deal", "id": KEYSTONE}.items() <= risk["citations"][0].items()
    evidence = [c for c in risk["citations"] if c["kind"] != "deal"]
    assert evidence and all(c["id"] and c["date"] for c in evidence)
    assert actions["intent"] == "deal_actions" and actions["focus"]["deal_ids"] == [KEYSTONE]
    assert "What to do next" in actions["answer"] or "No action stands out" in actions["answer"]
    assert explain["intent"] == "deal_explain" and "Win probability" in explain["answer"]
    assert explain["needs_review"]  # rule-based score: confidence 50 < 70
    assert commit["intent"] == "forecast" and "Commit for 2026-Q3" in commit["answer"]
    assert commit["data"]["org"]["commit"] is not None
    assert nxt["intent"] == "forecast" and nxt["data"]["period"] == "2026-Q3"
    for state in (risk, actions, explain, commit, nxt):
        assert untraceable(state["answer"], outputs(state)) == []
        assert not [f for f in state.get("flags", []) if "evaluator" in f]
    assert len([m for m in reloaded["messages"] if isinstance(m, AIMessage)]) == 5
    assert reloaded["focus"]["intent"] == "forecast"


def test_other_intents(org_url: str) -> None:
    chat = Chat(context(org_url), thread="intents")
    changed = chat.ask("what changed since last week?")
    assert changed["intent"] == "changes" and "What changed in 2026-Q2" in changed["answer"]
    what_if = chat.ask("what if we lose Keystonepoint?")
    assert what_if["intent"] == "what_if" and "you lose Keystonepoint" in what_if["answer"]
    assert what_if["data"]["scenario"]["changes"] == [{"op": "remove", "deal": KEYSTONE}]
    team = chat.ask("forecast for Jason's team next quarter")
    assert "team of Jason Richardson" in team["answer"]
    listed = chat.ask("show me deals in Negotiation/Review")
    assert listed["intent"] == "list_deals" and "in Negotiation/Review" in listed["answer"]
    fresh = chat.ask("is the data fresh?")
    assert fresh["intent"] == "refresh" and "data quality" in fresh["answer"]
    ambiguous = chat.ask("why is Redwoodport at risk?")
    assert ambiguous["intent"] == "clarify" and REDWOOD in ambiguous["answer"]
    unknown = chat.ask("tell me a joke")
    assert unknown["intent"] == "help" and "What's our Q3 commit?" in unknown["answer"]
    for state in (changed, what_if, team, listed, fresh, ambiguous):
        assert untraceable(state["answer"], outputs(state)) == [], state["answer"]
        assert not state["partial"]


def test_failing_tool_gives_partial_answer(org_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: object, **_k: object) -> None:
        raise RuntimeError("detector crashed")

    monkeypatch.setattr("dealcast.graph.nodes.risk.deal_risks_impl", boom)
    state = Chat(context(org_url), thread="fail").ask("why is Keystonepoint at risk?")
    assert state["partial"] is True
    assert state["missing"] == ["deal risks (RuntimeError: detector crashed)"]
    assert "Partial answer: could not compute deal risks" in state["answer"]
    assert "Win probability" in state["answer"]  # the score still made it


def test_transient_error_retried_then_recorded(
    org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}

    def flaky(*_a: object, **_k: object) -> dict:
        calls["n"] += 1
        raise TransientToolError("database is busy")

    monkeypatch.setattr("dealcast.graph.nodes.ingestion.refresh_data_impl", flaky)
    chat = Chat(context(org_url), thread="retry", retry=transient_retry(initial_interval=0.01))
    state = chat.ask("is the data fresh?")
    assert calls["n"] == 3
    assert state["partial"] and "data freshness" in state["missing"][0]


def test_timeout_is_recorded(org_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setattr(
        "dealcast.graph.nodes.ingestion.refresh_data_impl", lambda *a, **k: time.sleep(1.0)
    )
    state = Chat(context(org_url, node_timeout_s=0.2), thread="slow").ask("is the data fresh?")
    assert state["missing"] == ["data freshness (timed out after 0.2s)"]


def test_evaluator_catches_an_invented_number(
    org_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dealcast.graph.nodes import answer as answer_node
    from dealcast.graph.templates import render

    def lying(*args: object, **kw: object):
        out = render(*args, **kw)  # type: ignore[arg-type]
        out.text += "\nAlso, expect $9.87M from a deal nobody mentioned."
        return out

    monkeypatch.setattr(answer_node, "render", lying)
    state = Chat(context(org_url), thread="eval").ask("is the data fresh?")
    assert "$9.87M" not in state["answer"] and "data quality" in state["answer"]
    flags = [f for f in state["flags"] if "evaluator" in f]
    assert any("$9.87M" in f for f in flags) and any("re-rendered" in f for f in flags)


def test_guardrail_blocks_another_reps_deal_and_audits(org_url: str) -> None:
    rep = context(org_url, user_id=CAMILLE, role="rep")
    state = Chat(rep, thread="rep").ask(f"explain the score of {REDWOOD}")
    assert state["blocked"] and state["answer"] == REFUSAL
    assert state["data"] == {} and state["citations"] == []
    assert state["needs_review"]
    entries = get_store(org_url).audit_entries(action="chat_answer_blocked")
    assert entries and entries[-1].actor == CAMILLE
    own = Chat(rep, thread="rep-own").ask(f"explain the score of {KEYSTONE}")
    assert not own["blocked"] and "Keystonepoint" in own["answer"]


def test_guardrail_fail_safe(org_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError("guard down")

    monkeypatch.setattr("dealcast.safety.guard_output", broken)
    state = Chat(context(org_url), thread="failsafe").ask("is the data fresh?")
    assert state["blocked"] and state["answer"] == GUARD_FAILED
    assert any("guardrail error: RuntimeError" in f for f in state["flags"])
    # no caller identity at all: blocked too (least privilege), never the raw answer
    anon = Chat(context(org_url, user_id=None), thread="anon").ask("is the data fresh?")
    assert anon["blocked"] and "data quality" not in anon["answer"]
