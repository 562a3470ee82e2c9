"""The rule-based scorer: stage x age x amount. The fallback when no model can be used.

It needs no history: the stage's Salesforce probability is the base, then
- age: a deal that has sat in its stage more than 1.5x the org's typical time loses
  ground (x 1 / (1 + 0.5 * excess)), since stalled deals rarely recover;
- overdue: a deal past its close date and still open is discounted (x 0.75);
- amount: unusually large deals (over 250k) close less often (x 0.85).
Transparent on purpose: every factor is a sentence a rep can check.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RULES_VERSION = "rules"
LARGE_DEAL = 250_000.0


def rule_probability(features: pd.DataFrame) -> np.ndarray:
    base = features["sf_probability"].fillna(10.0).to_numpy(float) / 100.0
    velocity = features["stage_velocity"].fillna(1.0).to_numpy(float)
    age = 1.0 / (1.0 + 0.5 * np.clip(velocity - 1.5, 0.0, None))
    overdue = np.where(features["days_to_close"].fillna(0.0).to_numpy(float) < 0, 0.75, 1.0)
    large = np.where(
        np.expm1(features["amount_log"].fillna(0.0).to_numpy(float)) > LARGE_DEAL, 0.85, 1.0
    )
    return np.clip(base * age * overdue * large, 0.01, 0.95)


def rule_reasons(row: pd.Series) -> list[tuple[str, float]]:
    """Plain-words factors for one deal, with their effect in probability points."""
    base = (row.get("sf_probability") or 10.0) / 100.0
    reasons = [(f"Stage {row.get('StageName', 'unknown')}: Salesforce probability {base:.0%}", 0.0)]
    velocity = row.get("stage_velocity")
    if velocity is not None and not pd.isna(velocity) and velocity > 1.5:
        factor = 1.0 / (1.0 + 0.5 * (velocity - 1.5))
        reasons.append((f"In stage {velocity:.1f}x longer than usual", (factor - 1) * base * 100))
    days = row.get("days_to_close")
    if days is not None and not pd.isna(days) and days < 0:
        reasons.append((f"Close date passed {-days:.0f} days ago", -0.25 * base * 100))
    return reasons
