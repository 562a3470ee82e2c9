"""Claim-level grounding: quotes, numbers, dates and names must come from a cited passage
or a tool output."""

from __future__ import annotations

import pytest

from dealcast.rag.grounding import FLAG, ground

P1 = {
    "activity_id": "00TA00000000001AAA",
    "kind": "email",
    "date": "2026-05-03T09:30:00",
    "contact_name": "Maria Lopez",
    "contact_title": "CFO",
    "subject": "Re: pricing",
    "text": "We'd need a discount of about 15% to get this approved.",
}
P2 = {
    "activity_id": "00TA00000000002AAA",
    "kind": "call",
    "date": "2026-05-10T00:00:00",
    "contact_name": "Joe Bloggs",
    "contact_title": "IT Director",
    "text": "Joe mentioned they are also looking at PipeIQ.",
}
GOOD = (
    '- "We\'d need a discount of about 15% to get this approved." '
    "(Maria Lopez (CFO), email 00TA00000000001AAA, 2026-05-03)"
)


def test_a_verbatim_cited_quote_is_supported() -> None:
    out = ground(GOOD, [P1, P2])
    assert out.rate == 1.0 and out.text == GOOD


@pytest.mark.parametrize(
    ("claim", "problem"),
    [
        ("The CFO wants a 40% discount [00TA00000000001AAA].", "number 40%"),
        ('Maria wrote "we will sign today" [00TA00000000001AAA].', "quote not in"),
        ("Joe is evaluating PipeIQ [00TA00000000001AAA].", "name PipeIQ"),  # wrong passage
        ("They are looking at PipeIQ [00TA00000000009AAA].", "unknown id"),
        ("Maria said it on 2026-05-04 [00TA00000000001AAA].", "date 2026-05-04"),
        ("The deal will close this quarter.", "no cited passage"),
    ],
)
def test_an_unsupported_claim_is_removed(claim: str, problem: str) -> None:
    out = ground(f"{GOOD}\n{claim}", [P1, P2])
    assert out.text == GOOD
    assert out.rate == 0.5
    assert problem in " ".join(out.as_dict()["unsupported"][0]["problems"])


def test_flag_mode_keeps_the_claim_marked() -> None:
    out = ground("The CFO wants a 40% discount [00TA00000000001AAA].", [P1], mode="flag")
    assert out.text.endswith(FLAG) and out.rate == 0.0


def test_a_claim_held_by_a_tool_output_is_supported() -> None:
    risk = {"deals": [{"risks": [{"message": "Pricing pressure: 2 discount requests."}]}]}
    out = ground("- Pricing pressure: 2 discount requests.", [P1], [risk])
    assert out.rate == 1.0 and out.text


def test_headings_and_nothing_found_remarks_are_not_claims() -> None:
    out = ground("What the CRM activity says:\nNo passage mentions a budget.", [P1])
    assert [c.text for c in out.claims] == ["No passage mentions a budget."]
    assert out.rate == 1.0


def test_bad_mode() -> None:
    with pytest.raises(ValueError, match="remove"):
        ground(GOOD, [P1], mode="drop")
