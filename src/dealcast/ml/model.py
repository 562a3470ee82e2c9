"""A calibrated gradient-boosted classifier over a named feature matrix.

Generic on purpose: the deal scorer and the public-data benchmarks train through the same
code. Contributions are XGBoost's exact TreeSHAP (`pred_contribs=True`), in log-odds of the
raw model, one column per feature plus the bias.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from dealcast.ml import calibration, metrics

ALL_CORES = (
    len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
)
ONE_THREAD_MARGIN_ROWS = 2_000  # predictions (cheap per row) on one thread below this
ONE_THREAD_SHAP_ROWS = 200  # exact SHAP (costly per row) halves on two threads from here


@dataclass(frozen=True)
class ModelParams:
    # Small on purpose: exact SHAP for 100k deals must stay well under 15 s on 2 cores
    # (SHAP cost grows with trees x leaves; 100 x depth 4 measured ~7 s, 150 x 4 ~11-17 s).
    n_estimators: int = 100
    max_depth: int = 4
    learning_rate: float = 0.09
    subsample: float = 0.9
    colsample_bytree: float = 0.9
    min_child_weight: float = 5.0
    reg_lambda: float = 2.0
    seed: int = 0


@dataclass
class FitReport:
    calibration: str
    calibration_scores: dict[str, dict[str, float]]
    validation: metrics.Metrics
    folds: dict[str, int] = field(default_factory=dict)


@dataclass
class CalibratedModel:
    features: list[str]
    booster: xgb.Booster
    calibrator: calibration.Calibrator
    medians: dict[str, float]  # training medians: imputation for missing values
    low: dict[str, float]  # 1st percentile of training values (distribution check)
    high: dict[str, float]  # 99th percentile
    params: ModelParams = field(default_factory=ModelParams)

    # ---- training ---------------------------------------------------------------------
    @classmethod
    def fit(
        cls,
        train: tuple[pd.DataFrame, np.ndarray],
        calib: tuple[pd.DataFrame, np.ndarray],
        valid: tuple[pd.DataFrame, np.ndarray],
        params: ModelParams | None = None,
    ) -> tuple[CalibratedModel, FitReport]:
        params = params or ModelParams()
        x_train, y_train = train
        features = list(x_train.columns)
        medians = {c: _finite(x_train[c].median()) for c in features}
        low = {c: _finite(x_train[c].quantile(0.01)) for c in features}
        high = {c: _finite(x_train[c].quantile(0.99)) for c in features}
        dtrain = xgb.DMatrix(
            x_train.fillna(medians).to_numpy(float), label=y_train, feature_names=features
        )
        booster = xgb.train(
            {
                "objective": "binary:logistic",
                "eval_metric": "logloss",
                "max_depth": params.max_depth,
                "eta": params.learning_rate,
                "subsample": params.subsample,
                "colsample_bytree": params.colsample_bytree,
                "min_child_weight": params.min_child_weight,
                "lambda": params.reg_lambda,
                "seed": params.seed,
                "nthread": 2,
                "tree_method": "hist",
            },
            dtrain,
            num_boost_round=params.n_estimators,
        )
        model = cls(features, booster, calibration.Platt(1.0, 0.0, 0), medians, low, high, params)
        m_cal, m_val = model.margin(calib[0]), model.margin(valid[0])
        model.calibrator, scores = calibration.choose(m_cal, calib[1], m_val, valid[1])
        report = FitReport(
            calibration=model.calibrator.kind,
            calibration_scores=scores,
            validation=metrics.evaluate(valid[1], model.calibrator.apply(m_val)),
            folds={
                "train": len(y_train),
                "calibration": len(calib[1]),
                "validation": len(valid[1]),
            },
        )
        return model, report

    # ---- inference --------------------------------------------------------------------
    def matrix(self, frame: pd.DataFrame) -> xgb.DMatrix:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise ValueError(f"feature columns missing: {missing}")
        values = frame[self.features].astype(float).fillna(self.medians)
        return xgb.DMatrix(values.to_numpy(float), feature_names=self.features)

    def margin(self, frame: pd.DataFrame) -> np.ndarray:
        with xgb.config_context(nthread=threads_for(len(frame), ONE_THREAD_MARGIN_ROWS)):
            return np.asarray(self.booster.predict(self.matrix(frame), output_margin=True))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated win probability in [0, 1]."""
        return self.calibrator.apply(self.margin(frame))

    def contributions(self, frame: pd.DataFrame) -> np.ndarray:
        """Exact TreeSHAP in log-odds: shape (rows, features + 1), last column the bias."""
        with xgb.config_context(nthread=threads_for(len(frame), ONE_THREAD_SHAP_ROWS)):
            return np.asarray(self.booster.predict(self.matrix(frame), pred_contribs=True))

    # ---- persistence ------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        doc = {
            "format": "dealcast.calibrated_model/1",
            "features": self.features,
            "booster": base64.b64encode(bytes(self.booster.save_raw("ubj"))).decode(),
            "calibrator": self.calibrator.to_dict(),
            "medians": self.medians,
            "low": self.low,
            "high": self.high,
            "params": asdict(self.params),
        }
        return json.dumps(doc).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> CalibratedModel:
        doc = json.loads(blob)
        if doc.get("format") != "dealcast.calibrated_model/1":
            raise ValueError("not a dealcast model artifact")
        booster = xgb.Booster()
        booster.load_model(bytearray(base64.b64decode(doc["booster"])))
        booster.feature_names = doc["features"]
        return cls(
            features=doc["features"],
            booster=booster,
            calibrator=calibration.from_dict(doc["calibrator"]),
            medians=doc["medians"],
            low=doc["low"],
            high=doc["high"],
            params=ModelParams(**doc["params"]),
        )


def threads_for(rows: int, one_thread_below: int) -> int:
    """xgboost threads for a prediction on `rows` rows: one for small batches (its thread
    pool costs more than it saves there, ~20 ms per DMatrix with the cores busy), else every
    core. Always explicit: xgboost 3.2 never restores its global nthread to 0 ("all") after
    a `config_context(nthread=1)`, so relying on the default would leave a long-running
    process on one thread after its first small batch."""
    return 1 if rows < one_thread_below else ALL_CORES


def _finite(value: Any) -> float:
    value = float(value)
    return value if np.isfinite(value) else 0.0
