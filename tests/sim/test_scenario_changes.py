"""What-if changes on hand-built inputs: each op, and clear errors for invalid changes."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest

from dealcast.crm.stages import STANDARD_STAGES
from dealcast.sim.inputs import PipelineInputs
from dealcast.sim.scenario_changes import apply_changes
from tests.sim.test_engine import inputs


def base() -> PipelineInputs:
    inp = inputs(n=6)
    deals = inp.deals.copy()
    deals["StageName"] = "Needs Analysis"
    deals["ForecastCategoryName"] = "Pipeline"
    deals["p"] = 0.3
    rates = {"Needs Analysis": 0.2, "Negotiation/Review": 0.6}
    return replace(inp, deals=deals, stage_win_rates=rates)


def test_each_change_applies_to_a_copy() -> None:
    inp = base()
    before = inp.deals.copy()
    out = apply_changes(
        inp,
        [
            {"op": "move", "deal": "d0", "close_date": "2026-02-01"},
            {"op": "amount", "deal": "Deal 1", "amount": 123},
            {"op": "probability", "deal": "d2", "probability": 0.9},
            {"op": "remove", "deal": "d3"},
            {
                "op": "add",
                "name": "Big one",
                "amount": 1e6,
                "close_date": "2025-12-15",
                "stage": "Negotiation/Review",
                "owner": "R1",
            },
        ],
        STANDARD_STAGES,
    )
    pd.testing.assert_frame_equal(inp.deals, before)  # never modified in place
    d = out.deals.set_index("Id")
    assert d.loc["d0", "CloseDate"] == pd.Timestamp("2026-02-01")
    assert d.loc["d1", "Amount"] == 123 and d.loc["d2", "p"] == 0.9
    assert "d3" not in d.index and len(d) == 6
    added = d.loc["scenario-5"]
    assert added["p"] == 0.6 and added["OwnerId"] == "rep1"  # the stage's historical win rate
    assert added["ForecastCategoryName"] == "Commit"
    assert out.open_deals().amount.sum() == pytest.approx(d["Amount"].sum())


def test_a_stage_move_shifts_the_odds_by_the_stage_win_rates() -> None:
    change = {"op": "stage", "deal": "d0", "stage": "Negotiation/Review"}
    out = apply_changes(base(), [change], STANDARD_STAGES)
    d0 = out.deals.set_index("Id").loc["d0"]
    # odds 0.3/0.7 x (0.6/0.4) / (0.2/0.8) = 2.571... -> p = 0.72
    assert d0["p"] == pytest.approx(0.72)
    assert d0["ForecastCategoryName"] == "Commit"


def test_exclusions() -> None:
    inp = base()
    no_rep1 = apply_changes(inp, [{"op": "exclude_owner", "owner": "rep1"}], STANDARD_STAGES)
    assert "rep1" not in set(no_rep1.deals["OwnerId"])
    assert len(no_rep1.deals) == (inp.deals["OwnerId"] != "rep1").sum()
    change = {"op": "exclude_category", "category": "Pipeline"}
    assert apply_changes(inp, [change], STANDARD_STAGES).deals.empty


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"op": "explode"}, "not one of add, remove"),
        ({"op": "move", "deal": "nope", "close_date": "2026-01-01"}, "no open deal"),
        ({"op": "move", "deal": "d0", "close_date": "2024-01-01"}, "before the forecast date"),
        ({"op": "amount", "deal": "d0", "amount": -5}, "must be >= 0"),
        ({"op": "probability", "deal": "d0", "probability": 50}, "0-1"),
        ({"op": "stage", "deal": "d0", "stage": "Closed Won"}, "not an open stage; valid"),
        ({"op": "exclude_category", "category": "Maybe"}, "not one of Pipeline"),
        ({"op": "add", "amount": 1, "close_date": "2026-13-01"}, "not a date"),
    ],
)
def test_invalid_changes_are_clear_errors(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        apply_changes(base(), [change], STANDARD_STAGES)
