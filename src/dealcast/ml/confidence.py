"""How much to trust a score (0-100). `needs_review` below 70.

confidence = 100 x completeness x familiarity x certainty, where
- completeness = 1 - 0.6 x (share of features that had to be imputed): a score built on
  guesses is worth less;
- familiarity = 1 - 0.5 x (share of features outside the 1st-99th percentile range seen in
  training): the model is extrapolating there;
- certainty = 1 - min(0.5, 2 x se), se = sqrt(p(1-p)/n) with n the calibration examples
  that support this probability (the isotonic block around it, or the whole calibration
  fold for Platt): a probability estimated from few outcomes is a rough one.
The rule-based scorer gets a flat 50: it is a fallback, always worth a human look.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

REVIEW_BELOW = 70.0
RULES_CONFIDENCE = 50.0


def confidence(
    values: pd.DataFrame,
    imputed: np.ndarray,
    low: dict[str, float],
    high: dict[str, float],
    p: np.ndarray,
    support: np.ndarray,
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """`values`: the raw feature values (NaN where missing); `imputed`: bool mask, same shape.
    Returns the score and its three factors (each 0-1), so a reader can see why."""
    cols = list(values.columns)
    completeness = 1.0 - 0.6 * imputed.mean(axis=1)
    lo = np.array([low[c] for c in cols])
    hi = np.array([high[c] for c in cols])
    raw = values.to_numpy(float)
    outside = ((raw < lo) | (raw > hi)) & ~imputed
    familiarity = 1.0 - 0.5 * outside.mean(axis=1)
    se = np.sqrt(p * (1 - p) / np.maximum(support, 1.0))
    certainty = 1.0 - np.minimum(0.5, 2.0 * se)
    factors = {"completeness": completeness, "familiarity": familiarity, "certainty": certainty}
    return np.round(100.0 * completeness * familiarity * certainty, 1), factors
