"""SHAP contributions -> top factors in plain words with signed impact in points.

A factor's impact is what it moves the calibrated probability by: with margin m and the
feature's TreeSHAP contribution c (log-odds), impact = 100 * (cal(m) - cal(m - c)) points.
Factors are ranked by |impact|; phrases read the feature's value at the as-of time.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from dealcast.ml.calibration import Calibrator

MIN_POINTS = 0.5
MINUS = "\u2212"


def _n(v: float) -> int:
    return round(v)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


PHRASES: dict[str, Callable[[float, Mapping[str, Any]], str]] = {
    "deal_age_days": lambda v, r: f"Deal is {_n(v)} days old",
    "stage_duration_days": lambda v, r: f"{_n(v)} days in {r.get('StageName')}",
    "activity_count_30d": lambda v, r: (
        f"{_n(v)} activit{'y' if _n(v) == 1 else 'ies'} in the last 30 days"
        if v
        else "No activity in the last 30 days"
    ),
    "email_response_rate": lambda v, r: f"Buyer replies to {v:.0%} of emails",
    "meeting_count_30d": lambda v, r: (
        f"{_plural(_n(v), 'meeting')} in the last 30 days"
        if v
        else "No meetings in the last 30 days"
    ),
    "champion_engagement_score": lambda v, r: (
        f"Champion engaged {_plural(_n(math.expm1(v)), 'time')} in the last 30 days"
        if v > 0
        else "Champion silent for 30 days (or none named)"
    ),
    "account_health_score": lambda v, r: f"Account's past win rate {v:.0%}",
    "competitor_mentions": lambda v, r: (
        f"Competitor mentioned {_plural(_n(v), 'time')}" if v else "No competitor mentioned"
    ),
    "pricing_discussions": lambda v, r: (
        f"{_plural(_n(v), 'pricing discussion')}" if v else "No pricing pushback"
    ),
    "contract_review_started": lambda v, r: (
        "Contract or legal review under way" if v else "No contract review yet"
    ),
    "decision_maker_engaged": lambda v, r: (
        "Decision maker engaged" if v else "No decision maker or economic buyer engaged"
    ),
    "budget_confirmed": lambda v, r: "Budget confirmed" if v else "Budget not confirmed",
    "stage_index": lambda v, r: f"Stage {r.get('StageName')}",
    "sf_probability": lambda v, r: f"Stage probability {v:.0f}%",
    "close_date_slips": lambda v, r: (
        f"Close date pushed {_plural(_n(v), 'time')}" if v else "Close date never pushed"
    ),
    "days_pushed": lambda v, r: f"Close date pushed {_n(v)} days in total",
    "days_to_close": lambda v, r: (
        f"Close date passed {_n(-v)} days ago" if v < 0 else f"Closes in {_n(v)} days"
    ),
    "amount_log": lambda v, r: f"Amount {math.expm1(v):,.0f}",
    "amount_change_pct": lambda v, r: f"Amount {v:+.0%} since creation",
    "stage_velocity": lambda v, r: f"In stage {v:.1f}x the usual time",
    "engaged_contacts_count": lambda v, r: (
        "Single-threaded: one engaged buyer contact"
        if _n(v) == 1
        else f"{_plural(_n(v), 'engaged buyer contact')}"
        if v
        else "No engaged buyer contacts"
    ),
    "days_since_last_inbound": lambda v, r: (
        f"No reply from any contact in {_n(v)} days"
        if v >= 7
        else f"Buyer replied {_n(v)} days ago"
    ),
    "owner_win_rate": lambda v, r: f"Owner's win rate {v:.0%} over the past year",
}


def points(impact: float) -> str:
    sign = "+" if impact >= 0 else MINUS
    return f"{sign}{abs(impact):.0f} pts"


def impacts(contribs: np.ndarray, margin: np.ndarray, calibrator: Calibrator) -> np.ndarray:
    """(rows, features) impacts in probability points (bias column dropped)."""
    feature_contribs = contribs[:, :-1]
    p = calibrator.apply(margin)[:, None]
    without = calibrator.apply((margin[:, None] - feature_contribs).ravel()).reshape(
        feature_contribs.shape
    )
    return 100.0 * (p - without)


def top_factors(
    row: Mapping[str, Any],
    features: list[str],
    row_impacts: np.ndarray,
    imputed: set[str],
    k: int = 5,
) -> list[dict[str, Any]]:
    order = np.argsort(-np.abs(row_impacts))
    out = []
    for i in order[:k]:
        impact = float(row_impacts[i])
        if abs(impact) < MIN_POINTS:
            break
        name = features[i]
        value = row[name]
        if name in imputed or pd.isna(value):
            phrase = f"{name.replace('_', ' ').capitalize()} unknown (assumed typical)"
        else:
            phrase = PHRASES[name](float(value), row)
        out.append(
            {
                "feature": name,
                "value": None if pd.isna(value) else float(value),
                "impact_pts": round(impact, 1),
                "text": f"{phrase}: {points(impact)}",
            }
        )
    return out
