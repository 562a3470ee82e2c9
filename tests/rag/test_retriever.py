from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime

import pytest

from dealcast.crm.store import Store
from dealcast.rag.retriever import MODES, Passage, Retriever, SearchFilter
from tests.rag.org import BACKDATED_TASK, C2, NEEDLE_EMAIL, O1, O2, U2, sfid

Indexed = tuple[Store, Retriever]
# a query with words and meaning on both deals, so every branch has candidates to filter
BROAD = "security review pricing competitor comparison rival budget contract vendor"
FILTERS: list[tuple[SearchFilter, Callable[[Passage], bool]]] = [
    (SearchFilter(deal_ids=[O2]), lambda p: p.deal_id == O2),
    (SearchFilter(owner_ids=[U2]), lambda p: p.owner_id == U2),
    (SearchFilter(kinds=["email"]), lambda p: p.kind == "email"),
    (SearchFilter(kinds=["meeting", "call"]), lambda p: p.kind in ("meeting", "call")),
    (SearchFilter(direction="inbound"), lambda p: p.direction == "inbound"),
    (SearchFilter(until=datetime(2026, 3, 5)), lambda p: p.date <= datetime(2026, 3, 5)),
    (
        SearchFilter(deal_ids=[O1], since=datetime(2026, 3, 1), direction="inbound"),
        lambda p: p.deal_id == O1 and p.date >= datetime(2026, 3, 1) and p.kind == "email",
    ),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("flt,ok", FILTERS)
def test_filters_hold_in_every_mode(
    indexed: Indexed, mode: str, flt: SearchFilter, ok: Callable[[Passage], bool]
) -> None:
    _, retriever = indexed
    unfiltered = retriever.search(BROAD, k=30, mode=mode)
    assert not all(ok(p) for p in unfiltered)  # the filter has something to remove
    found = retriever.search(BROAD, flt, k=30, mode=mode)
    assert found, "the filter should still leave passages"
    assert all(ok(p) for p in found), [p.doc_id for p in found if not ok(p)]


@pytest.mark.parametrize("mode", MODES)
def test_until_hides_notes_logged_later_even_if_backdated(indexed: Indexed, mode: str) -> None:
    _, retriever = indexed
    query = "Dana hinted the budget may be cut next quarter"
    before = retriever.search(query, SearchFilter(until=datetime(2026, 4, 1)), k=30, mode=mode)
    after = retriever.search(query, SearchFilter(until=datetime(2026, 4, 21)), k=30, mode=mode)
    assert BACKDATED_TASK not in {p.activity_id for p in before}
    assert after[0].activity_id == BACKDATED_TASK
    assert after[0].date == datetime(2026, 2, 1)  # dated when it happened


def test_contact_role_recorded_after_until_is_hidden(indexed: Indexed) -> None:
    _, retriever = indexed
    flt = SearchFilter(deal_ids=[O1], kinds=["call"])
    now = [p for p in retriever.search(BROAD, flt, k=30) if p.contact_id == C2]
    then = retriever.search(
        BROAD, SearchFilter(deal_ids=[O1], kinds=["call"], until=datetime(2026, 3, 1)), k=30
    )
    assert now and {p.contact_role for p in now} == {"Technical Evaluator"}
    assert {p.contact_role for p in then if p.contact_id == C2} == {None}
    assert {p.contact_role for p in then if p.contact_id != C2} == {"Economic Buyer"}


@pytest.mark.parametrize(
    "query", ["pricing comparison 4471-889", "they compared our pricing with Zyphrax"]
)
def test_hybrid_finds_exact_names_and_numbers_dense_misses(indexed: Indexed, query: str) -> None:
    _, retriever = indexed
    dense = [p.activity_id for p in retriever.search(query, k=3, mode="dense")]
    hybrid = [p.activity_id for p in retriever.search(query, k=3, mode="hybrid")]
    assert NEEDLE_EMAIL not in dense
    assert NEEDLE_EMAIL in hybrid
    assert NEEDLE_EMAIL in [p.activity_id for p in retriever.search(query, k=3, mode="lexical")]


def test_passages_are_json_ready_and_scored(indexed: Indexed) -> None:
    _, retriever = indexed
    found = retriever.search("security questionnaire", k=5)
    assert len(found) == 5
    assert [p.score for p in found] == sorted((p.score for p in found), reverse=True)
    payload = json.loads(json.dumps([p.as_dict() for p in found]))
    assert payload[0]["doc_id"].startswith(payload[0]["activity_id"] + "#")
    next_step = retriever.search("revised pricing by Friday", SearchFilter(kinds=["next_step"]))
    assert [p.doc_id for p in next_step] == [f"{O1}:next_step#0"]


def test_bad_arguments(indexed: Indexed) -> None:
    _, retriever = indexed
    with pytest.raises(ValueError, match="hybrid, dense, lexical"):
        retriever.search("x", mode="semantic")
    with pytest.raises(ValueError, match="k must"):
        retriever.search("x", k=0)
    with pytest.raises(ValueError, match="direction"):
        retriever.search("x", SearchFilter(direction="sideways"))
    assert retriever.search("security", SearchFilter(deal_ids=[])) == []
    assert retriever.search("   ") == []
    assert retriever.search("security", SearchFilter(deal_ids=[sfid("006", 99)])) == []
