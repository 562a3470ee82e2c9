"""The output guard: visibility enforcement, PII redaction and the fail-safe."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
import pytest

from dealcast.safety import guard as guard_mod
from dealcast.safety.guard import guard_output
from dealcast.safety.policy import Caller, PiiPolicy, Visibility

MGR = "005000000000002AAA"
REP1 = "005000000000003AAA"
REP2 = "005000000000004AAA"
USERS = pd.DataFrame(
    {"Id": [MGR, REP1, REP2], "ManagerId": [None, MGR, MGR], "Name": ["M", "R1", "R2"]}
)
MINE = "006000000000001AAA"
THEIRS = "006000000000002AAA"
DEALS = pd.DataFrame(
    {"Id": [MINE, THEIRS], "OwnerId": [REP1, REP2], "Name": ["Acme Renewal", "Globex Expansion"]}
)


def setup(uid: str = REP1, role: str = "rep") -> tuple[Caller, Visibility]:
    caller = Caller(uid, role)
    return caller, Visibility.from_users(USERS, caller, DEALS)


def run(text: str, data: Any = None, citations: Any = None, **kw: Any) -> Any:
    caller, vis = setup(**kw)
    return guard_output(text, data, citations, caller, vis, PiiPolicy(names=("Ada Okafor",)))


def test_visible_answer_passes_with_pii_redacted() -> None:
    data = {"deals": [{"deal_id": MINE, "owner_id": REP1, "email": "ada@acme.com"}]}
    cites = [{"deal_id": MINE, "activity_id": "00T000000000001AAA", "date": "2024-03-01"}]
    out = run(f"Deal {MINE} is at risk; Ada Okafor (ada@acme.com) went quiet.", data, cites)
    assert not out.blocked
    assert out.text == f"Deal {MINE} is at risk; [NAME] ([EMAIL]) went quiet."
    assert out.data == {"deals": [{"deal_id": MINE, "owner_id": REP1, "email": "[EMAIL]"}]}
    assert out.citations == cites
    assert out.redactions == 3
    assert out.reasons == ["redacted 3 PII item(s)"]


def test_text_naming_an_unseen_deal_is_blocked_entirely() -> None:
    data = {"deals": [{"deal_id": MINE}, {"deal_id": THEIRS}]}
    for text in (f"Compare with {THEIRS}.", f"Compare with {THEIRS[:15]}.", "Globex  expansion!"):
        out = run(text, data, [{"deal_id": THEIRS}])
        assert out.blocked
        assert (out.text, out.data, out.citations, out.redactions) == ("", {}, [], 0)
        assert "outside the caller's visibility" in out.reasons[0]
        assert THEIRS not in " ".join(out.reasons) and THEIRS[:15] not in " ".join(out.reasons)


def test_text_naming_an_unseen_owner_is_blocked() -> None:
    assert run(f"Owner {REP2} has more.").blocked
    assert not run(f"Owner {REP1} has more.").blocked


def test_unknown_deal_ids_fail_closed_for_reps() -> None:
    assert run("Deal 006000000000099AAA slipped.").blocked


def test_unseen_items_are_removed_from_data_and_citations() -> None:
    data = {
        "deals": [
            {"deal_id": MINE, "amount": 10},
            {"deal_id": THEIRS, "amount": 20},
            {"summary": f"see {THEIRS}", "amount": 30},
            {"deal": {"id": THEIRS}, "score": 0.7},  # a nested hidden record takes its parent
        ],
        "by_owner": {REP1: 10, REP2: 20},
        "ids": [MINE, THEIRS],
        "total": 10,
    }
    cites = [{"deal_id": MINE}, {"deal_id": THEIRS}, THEIRS, f"activity on {MINE}"]
    out = run("Your pipeline looks healthy.", data, cites)
    assert not out.blocked
    assert out.data == {
        "deals": [{"deal_id": MINE, "amount": 10}],
        "by_owner": {REP1: 10},
        "ids": [MINE],
        "total": 10,
    }
    assert out.citations == [{"deal_id": MINE}, f"activity on {MINE}"]
    assert "removed 5 data item(s) outside the caller's visibility" in out.reasons
    assert "removed 2 citation(s) outside the caller's visibility" in out.reasons


def test_whole_data_record_about_a_hidden_deal_is_dropped() -> None:
    out = run("Here it is.", {"deal_id": THEIRS, "amount": 5})
    assert not out.blocked and out.data == {}


def test_manager_sees_team_deals_and_finance_sees_all() -> None:
    data = [{"deal_id": MINE}, {"deal_id": THEIRS}]
    for uid, role in ((MGR, "manager"), (REP1, "finance"), (REP1, "admin")):
        out = run(f"{MINE} and {THEIRS}", data, uid=uid, role=role)
        assert not out.blocked and out.data == data


def test_visibility_for_another_caller_is_an_error_and_blocks() -> None:
    _, vis = setup(REP1, "rep")
    out = guard_output("hi", {}, [], Caller(MGR, "manager"), vis, PiiPolicy())
    assert out.blocked and out.reasons[0].startswith("guardrail error: ValueError")


def test_internal_error_blocks_and_never_returns_unguarded_output(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def boom(*_a: Any, **_k: Any) -> Any:
        raise RuntimeError("detector exploded on ada@acme.com")

    monkeypatch.setattr(guard_mod, "redact", boom)
    text = f"Deal {MINE}: call Ada Okafor at ada@acme.com"
    data = {"deals": [{"deal_id": MINE, "email": "ada@acme.com"}]}
    with caplog.at_level(logging.ERROR, logger="dealcast.safety.guard"):
        out = run(text, data, [{"deal_id": MINE}])
    assert out.blocked
    assert (out.text, out.data, out.citations, out.redactions) == ("", {}, [], 0)
    assert out.reasons == ["guardrail error: RuntimeError (details in the server log)"]
    assert "ada@acme.com" not in repr(out)
    assert "guardrail error" in caplog.text


def test_error_in_visibility_check_also_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(*_a: Any, **_k: Any) -> Any:
        raise KeyError("x")

    monkeypatch.setattr(guard_mod, "find_refs", boom)
    out = run(f"Deal {MINE}", [{"deal_id": MINE}])
    assert out.blocked and out.data == [] and out.text == ""


def test_unsupported_data_blocks() -> None:
    out = run("ok", {"x": object()})
    assert out.blocked and out.reasons[0].startswith("guardrail error: TypeError")


def test_bad_arguments_block_instead_of_raising() -> None:
    caller, vis = setup()
    out = guard_output(None, {}, [], caller, vis, PiiPolicy())  # type: ignore[arg-type]
    assert out.blocked


def test_data_naming_a_hidden_deal_is_removed() -> None:
    data = [{"name": "Acme Renewal", "amount": 1}, {"name": "GLOBEX expansion", "amount": 2}]
    out = run("Two deals.", data)
    assert out.data == [{"name": "Acme Renewal", "amount": 1}]


def test_no_data_and_no_citations() -> None:
    out = run("Nothing to show.", None, None)
    assert (out.text, out.data, out.citations, out.blocked) == ("Nothing to show.", None, [], False)
