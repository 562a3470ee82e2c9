"""The deterministic planner on a small hand-made directory (no store, no graph)."""

from __future__ import annotations

from datetime import datetime

import pytest

from dealcast.graph.planning.periods import find_period, find_since
from dealcast.graph.planning.plans import plan_request
from dealcast.graph.planning.text import parse_money

AS_OF = datetime(2026, 6, 30, 23, 59, 59)
STAGES = ["Prospecting", "Qualification", "Negotiation/Review"]


def _deal(i: str, name: str, account: str, owner: str, stage: str, amount: float, close: str):
    return {
        "id": i,
        "name": name,
        "account": account,
        "owner_id": owner,
        "owner": {"U1": "Camille Allen", "U2": "Eric Bianchi", "M1": "Jason Richardson"}[owner],
        "stage": stage,
        "amount": amount,
        "close_date": close,
        "category": "Pipeline",
    }


DIRECTORY = {
    "as_of": AS_OF.isoformat(),
    "deals": [
        _deal(
            "006A00000000001AAA",
            "Acme Corp - Renewal",
            "Acme Corp",
            "U1",
            "Qualification",
            50000,
            "2026-09-18",
        ),
        _deal(
            "006A00000000002AAA",
            "Redwoodport Engineering Analytics FY25",
            "Redwoodport Engineering",
            "U2",
            "Prospecting",
            38500,
            "2026-08-10",
        ),
        _deal(
            "006A00000000003AAA",
            "Redwoodport Engineering Add-on FY27",
            "Redwoodport Engineering",
            "U2",
            "Negotiation/Review",
            85000,
            "2026-09-30",
        ),
        _deal(
            "006A00000000004AAA",
            "Redwoodpoint Insurance - Platform",
            "Redwoodpoint Insurance",
            "U1",
            "Prospecting",
            12000,
            "2026-07-15",
        ),
        _deal(
            "006A00000000005AAA",
            "Keystonepoint - New Business",
            "Keystonepoint",
            "U1",
            "Negotiation/Review",
            945000,
            "2027-03-31",
        ),
    ],
    "users": [
        {"id": "M1", "name": "Jason Richardson", "manager_id": None, "active": True},
        {"id": "U1", "name": "Camille Allen", "manager_id": "M1", "active": True},
        {"id": "U2", "name": "Eric Bianchi", "manager_id": "M1", "active": True},
    ],
}


def plan(text: str, focus=None, caller="U2"):
    return plan_request(text, DIRECTORY, focus, as_of=AS_OF, caller_id=caller, stages=STAGES)


def task(planned, kind):
    return next(t for t in planned.plan if t["kind"] == kind)


@pytest.mark.parametrize(
    ("text", "kind", "label"),
    [
        ("Q3", "quarter", "2026-Q3"),
        ("Q3 2026", "quarter", "2026-Q3"),
        ("q1", "quarter", "2027-Q1"),  # already over this year -> next year's
        ("this quarter", "quarter", "2026-Q2"),
        ("next quarter", "quarter", "2026-Q3"),
        ("next month", "month", "2026-07"),
        ("this week", "week", "2026-W27"),
        ("2026-07", "month", "2026-07"),
        ("in August", "month", "2026-08"),
        ("2026-W30", "week", "2026-W30"),
    ],
)
def test_periods(text: str, kind: str, label: str) -> None:
    p = find_period(text, AS_OF)
    assert p is not None and (p.kind, p.label) == (kind, label)


def test_since_and_money() -> None:
    since = find_since("what changed since last week?", AS_OF)
    assert since is not None and since[0] == datetime(2026, 6, 23, 23, 59, 59)
    assert parse_money("closes at 50k") == 50_000
    assert parse_money("$1.2M") == 1_200_000
    assert parse_money("for 3 seats") is None


def test_deal_risk_by_fuzzy_name_and_id() -> None:
    p = plan("why is Keystonpoint at risk?")  # typo
    assert p.intent == "deal_risk"
    assert task(p, "risk")["args"]["deal_ids"] == ["006A00000000005AAA"]
    p = plan("explain the score of 006A00000000001AAA")
    assert p.intent == "deal_explain"
    assert task(p, "score")["args"]["deal_ids"] == ["006A00000000001AAA"]
    assert {t["kind"] for t in p.plan} == {"refresh", "score"}


def test_exact_brand_beats_near_miss_and_ambiguity_asks() -> None:
    p = plan("why is Redwoodport at risk?")
    assert p.intent == "clarify" and p.reply is not None
    assert p.reply["candidates"] == ["006A00000000002AAA", "006A00000000003AAA"]  # not Redwoodpoint
    follow = plan("the second one", focus=p.focus)
    assert follow.intent == "deal_risk"
    assert follow.focus["deal_ids"] == ["006A00000000003AAA"]


def test_follow_up_resolves_against_focus() -> None:
    first = plan("why is Acme at risk?")
    second = plan("and what should I do about it?", focus=first.focus)
    assert second.intent == "deal_actions"
    score = task(second, "score")
    assert score["args"]["deal_ids"] == ["006A00000000001AAA"]
    assert score["depends_on"] == ["risk"]  # actions use the risks
    third = plan("explain this score", focus=second.focus)
    assert third.intent == "deal_explain"


def test_forecast_intents() -> None:
    p = plan("what's our Q3 commit?")
    args = task(p, "forecast")["args"]
    assert (p.intent, args["label"], args["scope"], args["focus"]) == (
        "forecast",
        "2026-Q3",
        "org",
        "commit",
    )
    p = plan("forecast for Jason's team next quarter")
    args = task(p, "forecast")["args"]
    assert (args["scope"], args["manager_id"]) == ("team", "M1")
    p = plan("forecast for Camille's team next quarter")  # no reports: her own deals
    args = task(p, "forecast")["args"]
    assert (args["scope"], args["owner_ids"], args["team_requested"]) == ("owner", ["U1"], True)
    nxt = plan("and next month?", focus=p.focus)
    assert nxt.intent == "forecast" and task(nxt, "forecast")["args"]["label"] == "2026-07"
    mine = plan("what's my forecast this quarter?")
    assert task(mine, "forecast")["args"]["owner_ids"] == ["U2"]


def test_changes_intent() -> None:
    p = plan("what changed since last week?")
    args = task(p, "changes")["args"]
    assert (p.intent, args["label"]) == ("changes", "2026-Q2")
    assert args["since"] == "2026-06-23T23:59:59"


@pytest.mark.parametrize(
    ("text", "change"),
    [
        ("what if Acme slips to next quarter?", {"op": "move", "close_date": "2026-12-19"}),
        ("what if Acme slips by 3 weeks?", {"op": "move", "close_date": "2026-10-09"}),
        ("what if we lose Acme?", {"op": "remove"}),
        ("what if Acme closes at 50k?", {"op": "amount", "amount": 50_000.0}),
        ("what if Acme is at 80%?", {"op": "probability", "probability": 0.8}),
        (
            "what if Acme moves to Negotiation/Review?",
            {"op": "stage", "stage": "Negotiation/Review"},
        ),
    ],
)
def test_what_if(text: str, change: dict) -> None:
    p = plan(text)
    assert p.intent == "what_if"
    got = task(p, "scenario")["args"]["changes"][0]
    assert got == {"deal": "006A00000000001AAA", **change}


def test_what_if_move_covers_the_target_period() -> None:
    args = task(plan("what if Acme slips to next quarter?"), "scenario")["args"]
    assert (args["kind"], args["label"]) == ("quarter", "2026-Q4")


def test_list_intents() -> None:
    p = plan("list deals by risk for Camille")
    args = task(p, "list_deals")["args"]
    assert args["owner_ids"] == ["U1"] and args["sort"] == "risk"
    assert {t["kind"] for t in p.plan} == {"refresh", "list_deals", "score", "risk"}
    p = plan("show me deals in Negotiation/Review")
    args = task(p, "list_deals")["args"]
    assert (args["stage"], args["sort"]) == ("Negotiation/Review", "amount")
    assert {t["kind"] for t in p.plan} == {"refresh", "list_deals"}


@pytest.mark.parametrize(
    "text", ["show my deals", "show my biggest deals", "list my open opportunities by risk"]
)
def test_my_deals_means_the_callers_own(text: str) -> None:
    assert task(plan(text, caller="U2"), "list_deals")["args"]["owner_ids"] == ["U2"]


def test_refresh_unknown_and_missing_deal() -> None:
    assert plan("is the data fresh?").intent == "refresh"
    p = plan("tell me a joke")
    assert (p.intent, p.plan, p.reply) == ("help", [], {"kind": "help"})
    p = plan("why is this deal at risk?")  # nothing to resolve against
    assert p.intent == "clarify" and p.reply == {"kind": "which_deal", "intent": "deal_risk"}
