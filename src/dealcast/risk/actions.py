"""Next best actions, ranked by what they are measured to do to the win probability.

Each action names the risk codes and model features it answers, and a counterfactual: the
feature values the deal would have if the action succeeded. Every candidate is re-scored
through the same calibrated model in one batch, and its expected change in win
probability (points) is the difference. The ranking is therefore measured, not hand-tuned;
an action the model says would not help is not recommended. The gain is the model's
estimate from how similar deals went (association, not a controlled experiment): it says
which lever matters most for this deal, not a promise.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import numpy as np
import pandas as pd

MIN_GAIN_PTS = 0.5


class Scorer(Protocol):
    features: list[str]

    def predict(self, frame: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class Action:
    key: str
    risks: tuple[str, ...]  # risk codes it answers
    features: tuple[str, ...]  # model features it answers (when they count against a deal)
    # feature changes if it works; reads the deal's values (None where missing)
    counterfactual: Callable[[Mapping[str, Any]], dict[str, float]]
    text: Callable[[Mapping[str, Any]], str]


def _days(row: Mapping[str, Any], name: str) -> int:
    value = row.get(name)
    return 0 if value is None or pd.isna(value) else round(float(value))


ACTIONS: tuple[Action, ...] = (
    Action(
        "engage_economic_buyer",
        ("no_decision_maker",),
        ("decision_maker_engaged",),
        lambda r: {
            "decision_maker_engaged": 1.0,
            "engaged_contacts_count": (r["engaged_contacts_count"] or 0) + 1,
        },
        lambda r: (
            "Engage the economic buyer: no Decision Maker or Economic Buyer on the "
            f"deal after {_days(r, 'deal_age_days')} days"
        ),
    ),
    Action(
        "multi_thread",
        ("single_threaded",),
        ("engaged_contacts_count",),
        lambda r: {"engaged_contacts_count": max(2.0, (r["engaged_contacts_count"] or 0) + 1)},
        lambda r: (
            "Multi-thread: get a second buyer stakeholder into the next meeting "
            f"(engaged contacts: {_days(r, 'engaged_contacts_count')})"
        ),
    ),
    Action(
        "re_engage_champion",
        ("ghost_contacts",),
        ("champion_engagement_score", "days_since_last_inbound", "email_response_rate"),
        lambda r: {
            "champion_engagement_score": math.log1p(3),
            "days_since_last_inbound": 3.0,
            "email_response_rate": max(0.5, r["email_response_rate"] or 0),
        },
        lambda r: (
            "Re-engage the champion on a new channel (call, LinkedIn, their manager): "
            f"no reply in {_days(r, 'days_since_last_inbound')} days"
        ),
    ),
    Action(
        "confirm_budget",
        ("budget_unconfirmed",),
        ("budget_confirmed",),
        lambda r: {"budget_confirmed": 1.0},
        lambda r: "Confirm budget in writing with the economic buyer",
    ),
    Action(
        "book_next_meeting",
        ("stalled",),
        ("meeting_count_30d", "activity_count_30d"),
        lambda r: {
            "meeting_count_30d": (r["meeting_count_30d"] or 0) + 1,
            "activity_count_30d": (r["activity_count_30d"] or 0) + 3,
        },
        lambda r: (
            "Book a dated next-step meeting to restart momentum: "
            f"{_days(r, 'stage_duration_days')} days in the current stage"
        ),
    ),
    Action(
        "mutual_close_plan",
        ("close_date_slipped",),
        ("days_to_close",),
        lambda r: {"days_to_close": max(30.0, r["days_to_close"] or 0)},
        lambda r: (
            "Agree a mutual close plan and a realistic close date with the buyer"
            + (
                f" (the close date passed {-_days(r, 'days_to_close')} days ago)"
                if _days(r, "days_to_close") < 0
                else ""
            )
        ),
    ),
    Action(
        "sell_value_not_discount",
        ("pricing_pressure",),
        ("pricing_discussions",),
        lambda r: {"pricing_discussions": 0.0},
        lambda r: (
            "Resolve the price objection on value (ROI, phased scope) before "
            f"discounting: price raised {_days(r, 'pricing_discussions')} times"
        ),
    ),
    Action(
        "competitive_plan",
        ("competitor_threat",),
        ("competitor_mentions",),
        lambda r: {"competitor_mentions": 0.0},
        lambda r: (
            "Build a competitive plan: differentiators, references and a trap-setting "
            "question for the next call"
        ),
    ),
    Action(
        "start_contract_review",
        (),
        ("contract_review_started",),
        lambda r: {"contract_review_started": 1.0},
        lambda r: "Send the order form and MSA now so legal and security review start",
    ),
)
ACTIONS_BY_KEY = {a.key: a for a in ACTIONS}


def recommend(
    model: Scorer,
    features: pd.DataFrame,
    risk_codes: Sequence[Sequence[str]],
    negative_features: Sequence[Sequence[str]],
    top: int = 3,
    base: np.ndarray | None = None,
    records: list[dict[str, Any]] | None = None,
) -> list[list[dict[str, Any]]]:
    """Per deal (row of `features`), the best `top` actions with measured gains.

    `risk_codes[i]`: the deal's risk codes; `negative_features[i]`: features whose SHAP
    impact counts against it. An action is a candidate when it answers either. `base`: the
    model's probabilities for `features` when the caller already has them, `records` its
    rows as dicts (`to_dict("records")`).
    """
    if records is None:
        records = cast(list[dict[str, Any]], features.to_dict("records"))
    rows, keys, changed = [], [], []
    for i, (codes, against) in enumerate(zip(risk_codes, negative_features, strict=True)):
        code_set, against_set = set(codes), set(against)
        known: Mapping[str, Any] | None = None
        for action in ACTIONS:
            if code_set.intersection(action.risks) or against_set.intersection(action.features):
                if known is None:  # missing values read as None, as in a Series.where
                    known = {k: (None if _missing(v) else v) for k, v in records[i].items()}
                rows.append(i)
                keys.append(action.key)
                changed.append(action.counterfactual(known))
    out: list[list[dict[str, Any]]] = [[] for _ in range(len(features))]
    if not rows:
        return out
    names = list(model.features)
    matrix = features[names].to_numpy(float)
    if base is None:
        base = model.predict(features[names])
    column = {name: j for j, name in enumerate(names)}
    cf = matrix[rows]  # fancy indexing: a copy, one row per candidate
    for j, change in enumerate(changed):
        for name, value in change.items():
            if name in column:
                cf[j, column[name]] = value
    gains = (model.predict(pd.DataFrame(cf, columns=names)) - base[rows]) * 100.0
    for i, key, gain in zip(rows, keys, gains, strict=True):
        if gain >= MIN_GAIN_PTS:
            action = ACTIONS_BY_KEY[key]
            out[i].append(
                {
                    "action": key,
                    "text": action.text(records[i]),
                    "addresses": [c for c in action.risks if c in risk_codes[i]]
                    + [f for f in action.features if f in negative_features[i]],
                    "expected_change_pts": round(float(gain), 1),
                }
            )
    return [sorted(acts, key=lambda a: -a["expected_change_pts"])[:top] for acts in out]


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT
