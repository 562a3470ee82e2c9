"""Probability calibration of raw model margins (log-odds): Platt or isotonic.

Both are fitted on the calibration fold and compared, with the uncalibrated model, on the
validation fold (Brier, then log-loss); the best is kept. Probabilities are clipped to
[0.5%, 99.5%]: nothing in a sales pipeline is certain, and a hard 0 or 1 would make log-loss
infinite.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from dealcast.ml import metrics

P_MIN, P_MAX = 0.005, 0.995


class Calibrator(Protocol):
    @property
    def kind(self) -> str: ...

    def apply(self, margin: np.ndarray) -> np.ndarray: ...

    def support(self, margin: np.ndarray) -> np.ndarray: ...

    def to_dict(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Identity:
    """The model's own probabilities, when neither calibrator improves on them."""

    n: int
    kind: str = "none"

    def apply(self, margin: np.ndarray) -> np.ndarray:
        return np.clip(1.0 / (1.0 + np.exp(-np.asarray(margin, dtype=float))), P_MIN, P_MAX)

    def support(self, margin: np.ndarray) -> np.ndarray:
        return np.full(np.shape(margin), float(self.n))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "n": self.n}


@dataclass(frozen=True)
class Platt:
    slope: float
    intercept: float
    n: int
    kind: str = "platt"

    @classmethod
    def fit(cls, margin: np.ndarray, y: np.ndarray) -> Platt:
        lr = LogisticRegression(C=1e6, max_iter=1000)
        lr.fit(margin.reshape(-1, 1), y)
        return cls(float(lr.coef_[0, 0]), float(lr.intercept_[0]), len(y))

    def apply(self, margin: np.ndarray) -> np.ndarray:
        z = self.slope * np.asarray(margin, dtype=float) + self.intercept
        return np.clip(1.0 / (1.0 + np.exp(-z)), P_MIN, P_MAX)

    def support(self, margin: np.ndarray) -> np.ndarray:
        """A parametric fit uses every calibration example for every prediction."""
        return np.full(np.shape(margin), float(self.n))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "slope": self.slope, "intercept": self.intercept, "n": self.n}


@dataclass(frozen=True)
class Isotonic:
    x: tuple[float, ...]  # block edges (margins)
    y: tuple[float, ...]  # calibrated probability at each edge
    counts: tuple[int, ...]  # calibration examples in each edge's block
    kind: str = "isotonic"

    @classmethod
    def fit(cls, margin: np.ndarray, y: np.ndarray) -> Isotonic:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=P_MIN, y_max=P_MAX)
        iso.fit(margin, y)
        xs, ys = np.asarray(iso.X_thresholds_), np.asarray(iso.y_thresholds_)
        # how many calibration points fall closest to each threshold: the block's support
        nearest = np.clip(np.searchsorted(xs, margin), 0, len(xs) - 1)
        counts = np.bincount(nearest, minlength=len(xs))
        return cls(tuple(map(float, xs)), tuple(map(float, ys)), tuple(map(int, counts)))

    def apply(self, margin: np.ndarray) -> np.ndarray:
        return np.clip(np.interp(margin, self.x, self.y), P_MIN, P_MAX)

    def support(self, margin: np.ndarray) -> np.ndarray:
        idx = np.clip(np.searchsorted(np.asarray(self.x), margin), 0, len(self.x) - 1)
        counts = np.asarray(self.counts, dtype=float)
        # a block is shared by its edges: count the neighbourhood, not a single edge
        padded = np.convolve(counts, np.ones(3), mode="same")
        return padded[idx]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "x": list(self.x),
            "y": list(self.y),
            "counts": list(self.counts),
        }


def from_dict(data: dict[str, Any]) -> Calibrator:
    if data["kind"] == "none":
        return Identity(data["n"])
    if data["kind"] == "platt":
        return Platt(data["slope"], data["intercept"], data["n"])
    if data["kind"] == "isotonic":
        return Isotonic(tuple(data["x"]), tuple(data["y"]), tuple(data["counts"]))
    raise ValueError(f"unknown calibrator {data['kind']!r}; valid: none, platt, isotonic")


def choose(
    margin_cal: np.ndarray, y_cal: np.ndarray, margin_val: np.ndarray, y_val: np.ndarray
) -> tuple[Calibrator, dict[str, dict[str, float]]]:
    """Fit both on the calibration fold, keep the best of them and the uncalibrated model
    on the validation fold (on small or drifting data, calibrating can make things worse)."""
    candidates: list[Calibrator] = [
        Identity(len(y_cal)),
        Platt.fit(margin_cal, y_cal),
        Isotonic.fit(margin_cal, y_cal),
    ]
    scores = {}
    for cal in candidates:
        p = cal.apply(margin_val)
        scores[cal.kind] = {
            "brier": metrics.brier(y_val, p),
            "log_loss": metrics.log_loss(y_val, p),
        }
    best = min(candidates, key=lambda c: (scores[c.kind]["brier"], scores[c.kind]["log_loss"]))
    return best, scores
