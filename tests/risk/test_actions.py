from __future__ import annotations

import numpy as np
import pandas as pd

from dealcast.ml.features import FEATURE_NAMES
from dealcast.risk.actions import ACTIONS, recommend


class LinearScorer:
    """p = 0.2 + 0.3 x decision maker + 0.1 x budget - 0.05 x overdue; nothing else matters."""

    def __init__(self) -> None:
        self.features = list(FEATURE_NAMES)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        overdue = (frame["days_to_close"] < 0).astype(float)
        return (
            0.2
            + 0.3 * frame["decision_maker_engaged"]
            + 0.1 * frame["budget_confirmed"]
            - 0.05 * overdue
        ).to_numpy(float)


def _deal(**values: float) -> dict[str, float]:
    base = {name: 0.0 for name in FEATURE_NAMES}
    base.update(days_to_close=10.0, engaged_contacts_count=1.0, deal_age_days=120.0)
    base.update(values)
    return base


def test_actions_are_ranked_by_measured_gain() -> None:
    feats = pd.DataFrame([_deal(days_to_close=-12.0)])
    codes = [["no_decision_maker", "budget_unconfirmed", "close_date_slipped", "single_threaded"]]
    (actions,) = recommend(LinearScorer(), feats, codes, [[]])
    assert [a["action"] for a in actions] == [
        "engage_economic_buyer",
        "confirm_budget",
        "mutual_close_plan",
    ]
    assert [a["expected_change_pts"] for a in actions] == [30.0, 10.0, 5.0]
    assert "after 120 days" in actions[0]["text"]
    assert "passed 12 days ago" in actions[2]["text"]
    assert actions[0]["addresses"] == ["no_decision_maker"]


def test_actions_that_would_not_help_are_dropped() -> None:
    feats = pd.DataFrame([_deal()])
    # multi-threading does not move this scorer: not recommended even though it is a risk
    (actions,) = recommend(LinearScorer(), feats, [["single_threaded"]], [[]])
    assert actions == []


def test_negative_shap_factors_also_propose_actions() -> None:
    feats = pd.DataFrame([_deal(), _deal(decision_maker_engaged=1.0)])
    out = recommend(LinearScorer(), feats, [[], []], [["decision_maker_engaged"], []])
    assert [a["action"] for a in out[0]] == ["engage_economic_buyer"]
    assert out[0][0]["addresses"] == ["decision_maker_engaged"] and out[1] == []


def test_every_action_changes_only_model_features() -> None:
    row = pd.Series(_deal())
    for action in ACTIONS:
        assert set(action.counterfactual(row)) <= set(FEATURE_NAMES), action.key
        assert action.text(row)
