"""The graph's LLM path through the real ChatOpenAI client against a loopback
OpenAI-compatible stub server: a scripted plan (the `Plan` tool or the tools/ wrappers),
narrations with real or invented numbers, HTTP 500s, timeouts, malformed tool calls,
refusals and the circuit breaker. Every answer's numbers must come from tool outputs."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI, Request

from dealcast.config import get_settings
from dealcast.graph.circuit import reset_breakers
from dealcast.graph.traceability import untraceable
from dealcast.prompts.agent import PLANNER_SYSTEM
from dealcast.prompts.narration import NARRATE_SYSTEM
from dealcast.tools.store import close_stores
from tests.demo_org import DemoOrg, copy_store
from tests.graph.conftest import Chat, context
from tests.integration.llm_stub import reply, serve

KEYSTONE = "006L000000000ECIAY"  # Keystonepoint - New Business (325 seats)
INVENTED = "Between us, I would bet on $9.87M by the end of the quarter."
Behaviour = dict[str, Any]


# ---------------------------------------------------------------- the stub server
@dataclass
class Stub:
    """Scripted replies: one queue for planner calls (they carry tools), one for
    narrations and one for re-asks; an empty queue means 500 for the planner and a
    faithful narration otherwise."""

    plan: list[Behaviour] = field(default_factory=list)
    narrate: list[Behaviour] = field(default_factory=list)
    repair: list[Behaviour] = field(default_factory=list)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def reset(self) -> None:
        self.plan, self.narrate, self.repair, self.requests = [], [], [], []

    def kinds(self) -> list[str]:
        return [k for k, _ in self.requests]


STUB = Stub()
app = FastAPI()


def facts_of(body: dict[str, Any]) -> str:
    user = next(m["content"] for m in body["messages"] if m["role"] == "user")
    match = re.search(r"<facts>\n(.*)\n</facts>", user, re.DOTALL)
    assert match, "the narration prompt carries the template facts"
    return html.unescape(match.group(1))


def faithful(body: dict[str, Any]) -> str:
    """A narration that copies lines (and so numbers) from the facts verbatim."""
    lines = [ln.strip("- ") for ln in facts_of(body).splitlines() if ln.strip()]
    return "Here is the short version. " + " ".join(lines[:3])


def plan_call(args: dict[str, Any]) -> Behaviour:
    return {"tool_calls": [("Plan", json.dumps(args))]}


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> Behaviour:
    return {"tool_calls": [(name, json.dumps(args)) for name, args in calls]}


def say(text: str | Callable[[dict[str, Any]], str]) -> Behaviour:
    return {"content": text}


@app.post("/v1/chat/completions")
async def completions(request: Request) -> Any:
    body = await request.json()
    last = body["messages"][-1]["content"] or ""
    if body.get("tools"):
        kind, queue = "plan", STUB.plan
    elif last.startswith("Your answer was rejected"):
        kind, queue = "repair", STUB.repair
    else:
        kind, queue = "narrate", STUB.narrate
    STUB.requests.append((kind, body))
    default: Behaviour = {"status": 500} if kind == "plan" else say(faithful)
    behaviour = queue.pop(0) if queue else default
    return await reply(behaviour, body)


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    with serve(app) as url:
        yield url


@pytest.fixture(scope="module")
def org_url(demo_org: DemoOrg, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("graph-llm") / "org.db"
    copy_store(demo_org.store, path).close()
    yield f"sqlite:///{path}"
    close_stores()


@pytest.fixture(autouse=True)
def llm_env(base_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DEALCAST_LLM_BASE_URL", base_url)
    monkeypatch.setenv("DEALCAST_LLM_MODEL", "stub-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("LANGSMITH_TRACING", "false")
    get_settings.cache_clear()
    reset_breakers()
    STUB.reset()
    yield
    get_settings.cache_clear()
    reset_breakers()


def chat(org_url: str, thread: str, **kw: Any) -> Chat:
    base = {"use_llm": True, "llm_timeout_s": 5.0, "n_sims": 200}
    return Chat(context(org_url, **(base | kw)), thread=thread)


def outputs(state: dict[str, Any]) -> list[Any]:
    return [r["output"] for r in state["results"].values() if r.get("ok")]


def assert_traceable(state: dict[str, Any]) -> None:
    assert untraceable(state["answer"], outputs(state)) == [], state["answer"]


# ---------------------------------------------------------------- the LLM path
def test_structured_plan_and_narration(org_url: str) -> None:
    # the rules cannot read "the keystone thing" (a fuzzy miss): only the LLM plan answers
    STUB.plan.append(
        plan_call(
            {
                "intent": "deal_explain",
                "subtasks": [
                    {"id": "r", "kind": "refresh", "args": {}, "depends_on": []},
                    {"id": "s", "kind": "score", "args": {"deals": ["Keystonepoint"]}},
                ],
            }
        )
    )
    state = chat(org_url, "happy").ask("how's the keystone thing looking, odds-wise?")
    assert state["plan_source"] == "llm" and state["intent"] == "deal_explain"
    assert [t["kind"] for t in state["plan"]] == ["refresh", "score"]
    assert state["focus"]["deal_ids"] == [KEYSTONE]
    assert state["answer_source"] == "llm" and state["fallbacks"] == []
    assert state["answer"].startswith("Here is the short version.")
    assert "Win probability" in state["answer"]
    assert state["citations"][0]["id"] == KEYSTONE and state["data"]["deals"]
    assert_traceable(state)
    assert STUB.kinds() == ["plan", "narrate"]
    plan_body, narrate_body = STUB.requests[0][1], STUB.requests[1][1]
    assert plan_body["messages"][0] == {"role": "system", "content": PLANNER_SYSTEM}
    tools = {t["function"]["name"] for t in plan_body["tools"]}
    assert {"Plan", "score_deals", "forecast_period", "what_if"} <= tools
    assert "store" not in json.dumps(plan_body["tools"])  # injected args stay hidden
    assert plan_body["model"] == "stub-model"
    assert narrate_body["messages"][0]["content"] == NARRATE_SYSTEM
    assert "<request>how&#x27;s" in narrate_body["messages"][1]["content"] or (
        "<request>how's" in narrate_body["messages"][1]["content"]
    )


def test_tool_calls_over_the_tool_wrappers(org_url: str) -> None:
    STUB.plan.append(
        tool_calls(("data_freshness", {}), ("forecast_period", {"kind": "quarter", "label": "Q3"}))
    )
    state = chat(org_url, "tools").ask("what do we expect to book over the summer?")
    assert state["plan_source"] == "llm" and state["intent"] == "forecast"
    forecast = next(t for t in state["plan"] if t["kind"] == "forecast")
    assert forecast["args"]["label"] == "2026-Q3" and forecast["args"]["scope"] == "org"
    assert state["results"]["forecast"]["ok"] and not state["partial"]
    assert state["answer_source"] == "llm" and "2026-Q3" in state["answer"]
    assert_traceable(state)


def test_unknown_entities_fall_back_to_the_rules_resolution(org_url: str) -> None:
    STUB.plan.append(
        plan_call(
            {
                "intent": "deal_explain",
                "subtasks": [{"id": "s", "kind": "score", "args": {"deals": ["Acme Rockets"]}}],
            }
        )
    )
    STUB.narrate.append({"status": 500})  # and the narration fails: template
    state = chat(org_url, "entities").ask("explain the Keystonepoint score")
    assert state["plan_source"] == "llm" and state["focus"]["deal_ids"] == [KEYSTONE]
    assert any("'Acme Rockets' not found" in f and KEYSTONE in f for f in state["flags"])
    assert [t["kind"] for t in state["plan"]] == ["refresh", "score"]  # refresh added
    assert state["answer_source"] == "template" and "Win probability" in state["answer"]
    assert len(state["fallbacks"]) == 1
    assert state["fallbacks"][0].startswith("answer: template (") and "500" in state["fallbacks"][0]
    assert_traceable(state)


def test_unknown_period_falls_back_to_the_rules_period(org_url: str) -> None:
    STUB.plan.append(
        plan_call(
            {
                "intent": "forecast",
                "subtasks": [{"id": "f", "kind": "forecast", "args": {"period": "Q9 of 2031x"}}],
            }
        )
    )
    state = chat(org_url, "period").ask("what's our Q3 commit?")
    assert state["plan_source"] == "llm"
    assert state["plan"][-1]["args"]["label"] == "2026-Q3"
    assert any("period 'Q9 of 2031x' not understood" in f for f in state["flags"])
    assert_traceable(state)


# ---------------------------------------------------------------- planner failures
PLANNER_FAILURES = {
    "http_500": ({"status": 500}, "Error code: 500"),
    "timeout": ({"sleep": 1.5, "content": "too late"}, "Timeout"),
    "malformed_tool_call": (
        {"tool_calls": [("Plan", '{"intent": "refresh", "subtasks": [')]},
        "malformed tool call 'Plan'",
    ),
    "refusal": ({"refusal": "I can't help with that."}, "refused"),
    "no_tool_call": (say("The data is fresh, trust me: 99.9% quality."), "no tool call"),
    "bad_schema": (plan_call({"intent": "launch_rockets", "subtasks": []}), "do not fit"),
    "unknown_tool": (tool_calls(("drop_tables", {})), "unknown tool"),
    "invalid_plan": (
        plan_call({"intent": "forecast", "subtasks": [{"id": "r", "kind": "refresh"}]}),
        "plan rejected: intent forecast without a forecast subtask",
    ),
}


@pytest.mark.parametrize("case", list(PLANNER_FAILURES))
def test_planner_failures_fall_back_to_the_rules(org_url: str, case: str) -> None:
    behaviour, reason = PLANNER_FAILURES[case]
    STUB.plan.append(behaviour)
    state = chat(org_url, f"fail-{case}", llm_timeout_s=0.5).ask("is the data fresh?")
    assert state["plan_source"] == "rules" and state["intent"] == "refresh"
    assert len(state["fallbacks"]) == 1 and state["fallbacks"][0].startswith("planner: rules (")
    assert reason in state["fallbacks"][0], state["fallbacks"]
    assert any("planner: LLM not used" in f for f in state["flags"])
    assert "data quality" in state["answer"] and state["answer_source"] == "llm"
    assert not state["partial"]
    assert_traceable(state)


# ---------------------------------------------------------------- evaluator re-ask
def test_invented_number_is_repaired_by_one_re_ask(org_url: str) -> None:
    STUB.plan.append(tool_calls(("data_freshness", {})))
    STUB.narrate.append(say(lambda body: faithful(body) + " " + INVENTED))
    state = chat(org_url, "repair").ask("is the data fresh?")
    assert STUB.kinds() == ["plan", "narrate", "repair"]
    repair_body = STUB.requests[2][1]
    assert "$9.87M" in repair_body["messages"][-1]["content"]  # the evaluator's complaint
    assert repair_body["messages"][-2]["role"] == "assistant"
    assert state["answer_source"] == "llm" and "$9.87M" not in state["answer"]
    assert state["answer"].startswith("Here is the short version.")
    assert any("number $9.87M is not in any tool output" in f for f in state["flags"])
    assert any("LLM answer repaired" in f for f in state["flags"])
    assert_traceable(state)


@pytest.mark.parametrize(
    ("repair", "why"),
    [
        (say(INVENTED), "re-asked answer still untraceable"),
        ({"status": 500}, "re-ask failed: OpenAIAPIError: Error code: 500"),
    ],
)
def test_invented_number_twice_falls_back_to_the_template(
    org_url: str, repair: Behaviour, why: str
) -> None:
    STUB.plan.append(tool_calls(("data_freshness", {})))
    STUB.narrate.append(say(INVENTED))
    STUB.repair.append(repair)
    state = chat(org_url, f"template-{why[:8]}").ask("is the data fresh?")
    assert STUB.kinds() == ["plan", "narrate", "repair"]  # re-asked once, not more
    assert state["answer_source"] == "template"
    assert state["answer"].startswith("Data as of 2026-06-30") and "$9.87M" not in state["answer"]
    assert len(state["fallbacks"]) == 1
    assert state["fallbacks"][0].startswith(f"evaluator: template ({why}")
    assert any("re-rendered from the template" in f for f in state["flags"])
    assert_traceable(state)


# ---------------------------------------------------------------- circuit breaker
def test_circuit_opens_after_three_failures_and_skips_the_llm(org_url: str) -> None:
    STUB.plan += [{"status": 500}, {"status": 500}]
    STUB.narrate += [{"status": 500}]
    c = chat(org_url, "breaker")
    first = c.ask("is the data fresh?")  # planner 500, narration 500: two failures
    second = c.ask("is the data fresh?")  # planner 500: third failure, circuit opens
    third = c.ask("is the data fresh?")  # no request at all
    assert STUB.kinds() == ["plan", "narrate", "plan"]
    assert first["fallbacks"][1].startswith("answer: template (") and "500" in first["fallbacks"][1]
    assert "circuit open" in second["fallbacks"][1]
    assert all("circuit open" in f for f in third["fallbacks"]) and len(third["fallbacks"]) == 2
    for state in (first, second, third):
        assert state["plan_source"] == "rules" and state["answer_source"] == "template"
        assert "data quality" in state["answer"]
        assert_traceable(state)


def test_no_llm_when_the_run_does_not_ask_for_one(org_url: str) -> None:
    state = Chat(context(org_url), thread="off").ask("is the data fresh?")
    assert STUB.requests == [] and state["plan_source"] == "rules"
    assert state["answer_source"] == "template" and not state.get("fallbacks")
