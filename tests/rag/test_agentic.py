"""The agentic retrieval subgraph on an in-memory retriever: routing, bounded rewrites,
citations, grading fallbacks."""

from __future__ import annotations

from datetime import datetime

import pytest

from dealcast.rag.agentic import RagContext, run_rag
from dealcast.rag.grading import AskFailed
from tests.rag.fakes import FakeFilter, FakePassage, FakeRetriever

ACME, GLOBEX = "006A00000000001AAA", "006A00000000002AAA"
PASSAGES = [
    FakePassage(
        "00TA00000000001AAA",
        ACME,
        "Hi Sam,\n\nHonestly, the pricing is a sticking point for our CFO. Our budget is "
        "tighter than last year.\n\nBest,\nMaria Lopez\nCFO | Acme\n+1 555 123 4567",
        datetime(2026, 5, 3, 9, 30),
        contact_name="Maria Lopez",
        contact_title="CFO",
    ),
    FakePassage(
        "00TA00000000002AAA",
        ACME,
        "Budget isn't approved yet, I'm waiting on finance.",
        datetime(2026, 5, 10),
        kind="call",
        direction=None,
        contact_name="Maria Lopez",
        contact_title="CFO",
    ),
    FakePassage(
        "00TA00000000003AAA",
        GLOBEX,
        "Full transparency: we're also evaluating PipeIQ.",
        datetime(2026, 4, 1),
        contact_name="Joe Bloggs",
        contact_title="IT Director",
    ),
    FakePassage(
        "00TA00000000004AAA",
        GLOBEX,
        "PipeIQ showed us a similar risk view last week and their price was lower.",
        datetime(2026, 4, 8),
        contact_name="Joe Bloggs",
        contact_title="IT Director",
    ),
]


def ctx(retriever: FakeRetriever, **kw: object) -> RagContext:
    def make_filter(deals: list[str], kinds: list[str] | None) -> FakeFilter:
        return FakeFilter(deal_ids=deals or None, kinds=kinds, until=datetime(2026, 6, 30))

    return RagContext(retriever=retriever, make_filter=make_filter, **kw)  # type: ignore[arg-type]


def test_deal_scoped_question_filters_on_the_deal_and_cites_who_and_when() -> None:
    r = FakeRetriever(PASSAGES)
    out = run_rag(ctx(r), "what did the CFO say about budget on Acme?", deal_ids=[ACME])
    assert out["scope"] == "deal"
    assert all(flt is not None and flt.deal_ids == [ACME] for _, flt in r.calls)
    quotes = out["quotes"]
    assert quotes and {q["activity_id"] for q in quotes} <= {
        "00TA00000000001AAA",
        "00TA00000000002AAA",
    }
    for q in quotes:
        assert q["date"] and q["who"].startswith("Maria Lopez (CFO)") and "udget" in q["quote"]
    assert "555" not in out["answer"]  # signatures are not quoted
    assert out["grounding"]["rate"] == 1.0


def test_org_wide_question_searches_every_deal_one_quote_per_deal() -> None:
    r = FakeRetriever(PASSAGES)
    out = run_rag(ctx(r), "which deals mention PipeIQ?")
    assert out["scope"] == "org" and r.calls[0][1] is not None and r.calls[0][1].deal_ids is None
    assert [q["deal_id"] for q in out["quotes"]] == [GLOBEX]  # one quote per deal


def test_weak_evidence_rewrites_and_retries_a_bounded_number_of_times() -> None:
    r = FakeRetriever(PASSAGES)
    out = run_rag(ctx(r, max_rewrites=2), "what did they say about the security questionnaire?")
    assert 2 <= len(r.calls) <= 3  # the first search, then at most two rewrites
    assert any(n.startswith("rewrite 1") for n in out["notes"])
    assert out["quotes"] == [] and out["answer"] == ""
    r0 = FakeRetriever(PASSAGES)
    run_rag(ctx(r0, max_rewrites=0), "what did they say about the security questionnaire?")
    assert len(r0.calls) == 1


def test_strong_evidence_does_not_rewrite() -> None:
    r = FakeRetriever(PASSAGES)
    run_rag(ctx(r), "budget", deal_ids=[ACME])
    assert len(r.calls) == 1


def test_kinds_named_in_the_question_filter_the_search() -> None:
    r = FakeRetriever(PASSAGES)
    out = run_rag(ctx(r), "what did Maria say about budget in calls?", deal_ids=[ACME])
    assert r.calls[0][1] is not None and r.calls[0][1].kinds == ["call"]
    assert [q["kind"] for q in out["quotes"]] == ["call"]


def test_a_filter_allowing_nothing_searches_nothing() -> None:
    r = FakeRetriever(PASSAGES)
    nothing = RagContext(retriever=r, make_filter=lambda deals, kinds: None)
    out = run_rag(nothing, "which deals mention PipeIQ?")
    assert r.calls == [] and out["searched"] is False and out["quotes"] == []


def test_llm_failures_fall_back_to_the_rules() -> None:
    def broken(system: str, user: str) -> str:
        raise AskFailed("HTTP 500")

    r = FakeRetriever(PASSAGES)
    out = run_rag(ctx(r, ask=broken), "what did the CFO say about budget?", deal_ids=[ACME])
    assert out["answer_source"] == "extractive" and out["quotes"]
    assert any("LLM not used" in n for n in out["notes"])


def test_llm_answer_is_cited_and_grounded() -> None:
    def model(system: str, user: str) -> str:
        if "grade search results" in system:
            return "[1, 2]"
        return (
            'Maria Lopez said "Budget isn\'t approved yet" [P2].\n'
            "The CFO expects a 40% discount next week [P1]."
        )

    r = FakeRetriever(PASSAGES)
    out = run_rag(ctx(r, ask=model), "what did the CFO say about budget?", deal_ids=[ACME])
    assert out["answer_source"] == "llm"
    assert "[00TA00000000002AAA]" in out["answer"]  # labels became activity ids
    assert "40%" not in out["answer"]  # the invented number was removed
    assert out["grounding"]["claims"] == 2 and out["grounding"]["supported"] == 1


def test_bad_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="auto"):
        run_rag(ctx(FakeRetriever(PASSAGES)), "x", mode="fast")
