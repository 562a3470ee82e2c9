"""Probability-quality metrics: AUC, Brier, log-loss, ECE and a reliability table."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import roc_auc_score

EPS = 1e-6


def _arrays(y: ArrayLike, p: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    y_arr, p_arr = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if y_arr.shape != p_arr.shape:
        raise ValueError(f"labels {y_arr.shape} and probabilities {p_arr.shape} differ in shape")
    return y_arr, p_arr


def auc(y: ArrayLike, p: ArrayLike) -> float:
    y_arr, p_arr = _arrays(y, p)
    if len(np.unique(y_arr)) < 2:
        return float("nan")
    return float(roc_auc_score(y_arr, p_arr))


def brier(y: ArrayLike, p: ArrayLike) -> float:
    y_arr, p_arr = _arrays(y, p)
    return float(np.mean((p_arr - y_arr) ** 2))


def log_loss(y: ArrayLike, p: ArrayLike) -> float:
    y_arr, p_arr = _arrays(y, p)
    p_arr = np.clip(p_arr, EPS, 1 - EPS)
    return float(-np.mean(y_arr * np.log(p_arr) + (1 - y_arr) * np.log(1 - p_arr)))


def reliability_table(y: ArrayLike, p: ArrayLike, bins: int = 10) -> list[dict[str, float]]:
    """Equal-width bins of predicted probability: count, mean prediction, observed rate."""
    y_arr, p_arr = _arrays(y, p)
    edges = np.linspace(0.0, 1.0, bins + 1)
    index = np.clip(np.digitize(p_arr, edges[1:-1], right=False), 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        rows.append(
            {
                "bin_low": float(edges[b]),
                "bin_high": float(edges[b + 1]),
                "count": count,
                "mean_predicted": float(p_arr[mask].mean()) if count else float("nan"),
                "observed_rate": float(y_arr[mask].mean()) if count else float("nan"),
            }
        )
    return rows


def ece(y: ArrayLike, p: ArrayLike, bins: int = 10) -> float:
    """Expected calibration error: bin-size-weighted |observed - predicted|."""
    y_arr, _ = _arrays(y, p)
    table = reliability_table(y, p, bins)
    total = len(y_arr)
    return (
        float(
            sum(
                r["count"] / total * abs(r["observed_rate"] - r["mean_predicted"])
                for r in table
                if r["count"]
            )
        )
        if total
        else float("nan")
    )


@dataclass(frozen=True)
class Metrics:
    n: int
    positives: int
    auc: float
    brier: float
    log_loss: float
    ece: float
    reliability: list[dict[str, float]] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def evaluate(y: ArrayLike, p: ArrayLike, bins: int = 10) -> Metrics:
    y_arr, p_arr = _arrays(y, p)
    return Metrics(
        n=len(y_arr),
        positives=int(y_arr.sum()),
        auc=auc(y_arr, p_arr),
        brier=brier(y_arr, p_arr),
        log_loss=log_loss(y_arr, p_arr),
        ece=ece(y_arr, p_arr, bins),
        reliability=reliability_table(y_arr, p_arr, bins),
    )
