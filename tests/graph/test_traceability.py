"""The evaluator's traceability check: numbers and deal names must come from tool outputs."""

from __future__ import annotations

from dealcast.graph.traceability import untraceable

OUTPUTS = [
    {
        "deals": [
            {
                "name": "Acme Corp - Renewal (100 seats)",
                "win_probability": 45.2,
                "amount": 1234567.0,
            }
        ],
        "coverage": 0.823,
        "message": "Close date slipping: pushed 5 time(s), 353 days in all.",
    }
]


def test_formats_normalised_against_outputs() -> None:
    text = (
        "Acme Corp - Renewal (100 seats) on 2026-09-30 (2026-Q3, 006A00000000001AAA): win 45.2%, "
        "amount $1.23M = $1,234.6K = 1,234,567; coverage 82.3%. "
        "Close date slipping: pushed 5 time(s), 353 days in all. Confidence 50 of 100."
    )
    assert untraceable(text, OUTPUTS) == ["number 50 is not in any tool output"]


def test_invented_numbers_and_deals_are_caught() -> None:
    problems = untraceable(
        "Win 47% and $2.5M; Globex - Expansion is fine.", OUTPUTS, ["Globex - Expansion"]
    )
    assert problems == [
        "number 47% is not in any tool output",
        "number $2.5M is not in any tool output",
        "deal 'Globex - Expansion' is not in any tool output",
    ]
