"""LLM-planned what-if, list and what-changed turns through the real ChatOpenAI client and the
loopback stub of test_graph_llm.py: the model's plan (the `Plan` tool or the tools/
wrappers) is validated into exactly the plan the rules build for the same entities, every
number in the answer comes from a tool output, numbers the model supplies are replaced by
the user's, and a malformed plan for the intent falls back to the deterministic planner."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dealcast.config import get_settings
from dealcast.graph.planning.plans import plan_request
from dealcast.graph.state import Subtask
from dealcast.tools.deals import load_directory
from dealcast.tools.store import get_store, resolve_as_of
from tests.graph.conftest import ADMIN, CAMILLE
from tests.integration import test_graph_llm as stub
from tests.integration.test_graph_llm import (
    KEYSTONE,
    STUB,
    Behaviour,
    assert_traceable,
    chat,
    plan_call,
    tool_calls,
)

# the stub server, its settings (autouse) and the org copy, shared with test_graph_llm.py
base_url, llm_env, org_url = stub.base_url, stub.llm_env, stub.org_url

AS_OF = "2026-06-30"


def rules_plan(org_url: str, text: str) -> tuple[str, list[Subtask]]:
    """What the deterministic planner makes of `text` (as the planner node calls it)."""
    store = get_store(org_url)
    as_of = resolve_as_of(AS_OF)
    planned = plan_request(
        text,
        load_directory(store, as_of),
        None,
        as_of=as_of,
        caller_id=ADMIN,
        stages=[s.name for s in store.stages.open_stages],
        fiscal_start_month=get_settings().fiscal_start_month,
    )
    return planned.intent, planned.plan


def primary(state: dict[str, Any], kind: str) -> Any:
    result = state["results"][kind]
    assert result["ok"], result
    return result["output"]


def numbers(text: str) -> list[str]:
    return re.findall(r"\d[\d,.]*", text)


def scenario(change: dict[str, Any], deals: list[str]) -> Behaviour:
    return plan_call(
        {
            "intent": "what_if",
            "subtasks": [
                {"id": "w", "kind": "scenario", "args": {"deals": deals, "change": change}}
            ],
        }
    )


# ---------------------------------------------------------------- what-if
def test_what_if_planned_by_the_llm(org_url: str) -> None:
    # the rules read this as a forecast question: only the model sees the lost deal
    text = "what happens to our number if the keystone thing falls through?"
    assert rules_plan(org_url, text)[0] == "forecast"
    STUB.plan.append(scenario({"op": "remove"}, ["Keystonepoint"]))
    state = chat(org_url, "wi-llm").ask(text)
    assert state["plan_source"] == "llm" and state["intent"] == "what_if"
    assert (state["intent"], state["plan"]) == rules_plan(org_url, "what if we lose Keystonepoint?")
    out = primary(state, "scenario")
    assert out["changes"] == [{"op": "remove", "deal": KEYSTONE}] and out["periods"]
    assert state["answer_source"] == "llm" and numbers(state["answer"])
    assert_traceable(state)


def test_what_if_amount_is_the_users_not_the_models(org_url: str) -> None:
    text = "what if Keystonepoint comes in at $500k?"
    STUB.plan.append(scenario({"op": "amount", "amount": 900000}, ["Keystonepoint"]))
    state = chat(org_url, "wi-amount").ask(text)
    assert state["plan_source"] == "llm"
    assert (state["intent"], state["plan"]) == rules_plan(org_url, text)
    change = state["plan"][-1]["args"]["changes"][0]
    assert change == {"op": "amount", "deal": KEYSTONE, "amount": 500000.0}
    assert any("amount 900000.0 is not the one in the request" in f for f in state["flags"])
    assert "900" not in state["answer"]
    assert_traceable(state)


def test_what_if_over_the_tool_wrapper(org_url: str) -> None:
    text = "what if Keystonepoint slips to next quarter?"
    change = {"op": "move", "deal": KEYSTONE, "close_date": "2026-12-31"}
    STUB.plan.append(
        tool_calls(("what_if", {"changes": [change], "kind": "quarter", "label": "x"}))
    )
    state = chat(org_url, "wi-tool").ask(text)
    assert state["plan_source"] == "llm"
    assert (state["intent"], state["plan"]) == rules_plan(org_url, text)
    assert primary(state, "scenario")["changes"] == [change]
    assert_traceable(state)


# ---------------------------------------------------------------- list
def test_list_planned_by_the_llm(org_url: str) -> None:
    text = "which of Camille's deals look hot, sorted by odds?"
    assert [t["kind"] for t in rules_plan(org_url, text)[1]] == ["refresh", "list_deals"]
    STUB.plan.append(
        plan_call(
            {
                "intent": "list_deals",
                "subtasks": [
                    {
                        "id": "l",
                        "kind": "list_deals",
                        "args": {"reps": ["Camille Allen"], "sort": "probability"},
                    },
                    {"id": "s", "kind": "score", "args": {"deals": ["Keystonepoint"]}},
                ],
            }
        )
    )
    state = chat(org_url, "list-llm").ask(text)
    assert state["plan_source"] == "llm" and state["intent"] == "list_deals"
    expected = rules_plan(org_url, "show Camille's deals by probability")
    assert (state["intent"], state["plan"]) == expected  # the model's score subtask: rebuilt
    listed = primary(state, "list")
    assert listed["count"] > 0 and {d["owner_id"] for d in listed["deals"]} == {CAMILLE}
    scored = {d["opportunity_id"] for d in primary(state, "score")["deals"]}
    assert scored == set(state["plan"][1]["args"]["ranked_ids"])
    assert numbers(state["answer"])
    assert_traceable(state)


# ---------------------------------------------------------------- what changed
def test_what_changed_planned_by_the_llm(org_url: str) -> None:
    text = "how has Q3 moved since the first of June?"
    assert rules_plan(org_url, text)[0] != "changes"
    STUB.plan.append(
        plan_call(
            {
                "intent": "changes",
                "subtasks": [
                    {
                        "id": "c",
                        "kind": "changes",
                        "args": {"period": "2026-Q3", "since": "2026-06-01"},
                    }
                ],
            }
        )
    )
    state = chat(org_url, "chg-llm").ask(text)
    assert state["plan_source"] == "llm" and state["intent"] == "changes"
    assert (state["intent"], state["plan"]) == rules_plan(
        org_url, "what changed in Q3 since 2026-06-01?"
    )
    assert primary(state, "changes")
    assert numbers(state["answer"])
    assert_traceable(state)


def test_what_changed_over_the_tool_wrapper(org_url: str) -> None:
    text = "what changed in Q3 since 2026-06-01?"
    STUB.plan.append(
        tool_calls(
            ("data_freshness", {}),
            ("what_changed", {"label": "2026-Q3", "since": "2026-06-01"}),
        )
    )
    state = chat(org_url, "chg-tool").ask(text)
    assert state["plan_source"] == "llm"
    assert (state["intent"], state["plan"]) == rules_plan(org_url, text)
    assert_traceable(state)


# ---------------------------------------------------------------- malformed plans
MALFORMED: dict[str, tuple[str, Behaviour, str]] = {
    "what_if_unknown_op": (
        "what if we lose Keystonepoint?",
        scenario({"op": "teleport"}, ["Keystonepoint"]),
        "do not fit",
    ),
    "what_if_without_change": (
        "what if we lose Keystonepoint?",
        tool_calls(("what_if", {"changes": [], "kind": "quarter", "label": "2026-Q3"})),
        "what_if without a change",
    ),
    "what_if_duplicate_ids": (
        "what if we lose Keystonepoint?",
        plan_call(
            {
                "intent": "what_if",
                "subtasks": [
                    {"id": "w", "kind": "refresh"},
                    {"id": "w", "kind": "scenario", "args": {"deals": ["Keystonepoint"]}},
                ],
            }
        ),
        "plan rejected: duplicate subtask ids",
    ),
    "list_bad_sort": (
        "show Camille's deals by probability",
        plan_call(
            {
                "intent": "list_deals",
                "subtasks": [{"id": "l", "kind": "list_deals", "args": {"sort": "hotness"}}],
            }
        ),
        "do not fit",
    ),
    "list_cycle": (
        "show Camille's deals by probability",
        plan_call(
            {
                "intent": "list_deals",
                "subtasks": [
                    {"id": "l", "kind": "list_deals", "depends_on": ["s"]},
                    {"id": "s", "kind": "score", "depends_on": ["l"]},
                ],
            }
        ),
        "plan rejected: circular depends_on",
    ),
    "changes_without_changes": (
        "what changed in Q3 since 2026-06-01?",
        plan_call({"intent": "changes", "subtasks": [{"id": "r", "kind": "refresh"}]}),
        "plan rejected: intent changes without a changes subtask",
    ),
    "changes_bad_label": (
        "what changed in Q3 since 2026-06-01?",
        tool_calls(("what_changed", {"label": 7})),
        "do not fit",
    ),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_plan_falls_back_to_the_rules(org_url: str, case: str) -> None:
    text, behaviour, reason = MALFORMED[case]
    STUB.plan.append(behaviour)
    state = chat(org_url, f"bad-{case}").ask(text)
    assert state["plan_source"] == "rules"
    assert (state["intent"], state["plan"]) == rules_plan(org_url, text)
    assert len(state["fallbacks"]) == 1 and state["fallbacks"][0].startswith("planner: rules (")
    assert reason in state["fallbacks"][0], state["fallbacks"]
    assert not state["partial"] and numbers(state["answer"])
    assert_traceable(state)
