"""Training examples, the time split, and training with baselines on the same fold.

Examples are weekly snapshots of every deal closed by the as-of time T, taken while it was
open, labelled with how it ended. Features come from `features.compute`, so each example
sees only what was known at its snapshot. Deals are split by when they closed: the
earliest 60% train the model, the next 20% calibrate it, the last 20% validate it (and
choose the calibrator). Never a random split: that would let the model learn from deals
that closed after the ones it is judged on.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from dealcast.ml import calibration, metrics
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.features import FEATURE_NAMES, compute
from dealcast.ml.model import CalibratedModel, FitReport, ModelParams
from dealcast.ml.rules import rule_probability

MIN_WON, MIN_LOST = 50, 150
SNAPSHOT_EVERY = pd.Timedelta(days=7)
SPLIT = (0.6, 0.8)  # cumulative shares of closed deals: train | calibration | validation


class NotEnoughHistory(Exception):
    """Too few closed deals to train; the rule-based scorer is used instead."""


def build_examples(inputs: FeatureInputs, every: pd.Timedelta = SNAPSHOT_EVERY) -> pd.DataFrame:
    closes = inputs.closes.merge(inputs.opps[["OpportunityId", "CreatedDate"]], on="OpportunityId")
    horizon = pd.Timestamp(inputs.horizon)
    if closes.empty:
        return pd.DataFrame(columns=["OpportunityId", "AsOf", "Label", "ClosedAt"])
    start = closes["CreatedDate"].min()
    n = int((horizon - start) / every) + 1
    grid = np.asarray(horizon - every * np.arange(n)[::-1], dtype="datetime64[ns]")  # ends at T
    first = np.searchsorted(grid, closes["CreatedDate"].to_numpy(), side="left")
    last = np.searchsorted(grid, closes["ClosedAt"].to_numpy(), side="left")  # s < ClosedAt
    counts = np.clip(last - first, 0, None)
    rows = np.repeat(np.arange(len(closes)), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    pairs = pd.DataFrame(
        {
            "OpportunityId": closes["OpportunityId"].to_numpy()[rows],
            "AsOf": grid[first[rows] + offsets],
        }
    )
    examples = compute(inputs, pairs)
    examples["Label"] = closes["IsWon"].to_numpy(int)[rows]
    examples["ClosedAt"] = closes["ClosedAt"].to_numpy()[rows]
    open_stages = {s.name for s in inputs.stages.open_stages}
    # a snapshot whose state is unknown, or a deal that was closed then reopened: skip
    return examples[examples["StageName"].isin(open_stages)].reset_index(drop=True)


def time_split(examples: pd.DataFrame) -> pd.Series:
    """fold per example: train | calibration | validation, by the deal's close time."""
    closed = examples.drop_duplicates("OpportunityId").sort_values(["ClosedAt", "OpportunityId"])
    rank = np.arange(len(closed)) / max(len(closed), 1)
    folds = np.select([rank < SPLIT[0], rank < SPLIT[1]], ["train", "calibration"], "validation")
    fold_of = dict(zip(closed["OpportunityId"], folds, strict=True))
    return examples["OpportunityId"].map(fold_of)


def data_hash(examples: pd.DataFrame) -> str:
    cols = ["OpportunityId", "AsOf", "Label", *FEATURE_NAMES]
    hashed = pd.util.hash_pandas_object(examples[cols], index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


@dataclass
class TrainingResult:
    model: CalibratedModel
    fit: FitReport
    baselines: dict[str, metrics.Metrics]
    window: dict[str, str]
    counts: dict[str, int]
    data_hash: str
    examples: pd.DataFrame = field(repr=False)

    def summary(self) -> dict[str, Any]:
        def short(m: metrics.Metrics) -> dict[str, float]:
            return {"auc": m.auc, "brier": m.brier, "log_loss": m.log_loss, "ece": m.ece}

        return {
            "model": short(self.fit.validation),
            "stage_probability_baseline": short(self.baselines["stage_probability"]),
            "rules_baseline": short(self.baselines["rules"]),
            "calibration": self.fit.calibration,
            "calibration_scores": self.fit.calibration_scores,
            "reliability": self.fit.validation.reliability,
            "folds": self.fit.folds,
            "window": self.window,
            "counts": self.counts,
            "data_hash": self.data_hash,
        }


def check_history(inputs: FeatureInputs) -> dict[str, int]:
    won = int(inputs.closes["IsWon"].sum())
    lost = len(inputs.closes) - won
    if won < MIN_WON or lost < MIN_LOST:
        raise NotEnoughHistory(
            f"only {won} won and {lost} lost deals closed by {inputs.horizon:%Y-%m-%d}; "
            f"training needs at least {MIN_WON} won and {MIN_LOST} lost"
        )
    return {"won": won, "lost": lost}


def train(inputs: FeatureInputs, params: ModelParams | None = None) -> TrainingResult:
    counts = check_history(inputs)
    examples = build_examples(inputs)
    examples["Fold"] = time_split(examples)
    parts = {}
    for fold in ("train", "calibration", "validation"):
        part = examples[examples["Fold"] == fold]
        parts[fold] = (part[list(FEATURE_NAMES)].astype(float), part["Label"].to_numpy())
    model, fit = CalibratedModel.fit(
        parts["train"], parts["calibration"], parts["validation"], params
    )
    valid = examples[examples["Fold"] == "validation"]
    y = valid["Label"].to_numpy()
    baselines = {
        "stage_probability": metrics.evaluate(y, valid["sf_probability"].fillna(10) / 100.0),
        "rules": metrics.evaluate(y, rule_probability(valid)),
    }
    window = {
        "from": str(examples["AsOf"].min()),
        "to": str(pd.Timestamp(inputs.horizon)),
        "validation_closed_from": str(valid["ClosedAt"].min()),
    }
    counts.update({"examples": len(examples), "deals": examples["OpportunityId"].nunique()})
    return TrainingResult(model, fit, baselines, window, counts, data_hash(examples), examples)


def recalibrate(model: CalibratedModel, inputs: FeatureInputs) -> tuple[CalibratedModel, FitReport]:
    """Same trees, a calibrator refitted on the latest closes: a PATCH version. Use it when
    win rates drift but the ranking still holds (compare before promoting: the newest
    folds may include deals the trees were trained on)."""
    examples = build_examples(inputs)
    fold = time_split(examples)
    cal, valid = examples[fold == "calibration"], examples[fold == "validation"]
    m_cal, m_val = model.margin(cal[model.features]), model.margin(valid[model.features])
    calibrator, scores = calibration.choose(
        m_cal, cal["Label"].to_numpy(), m_val, valid["Label"].to_numpy()
    )
    new = dataclasses.replace(model, calibrator=calibrator)
    report = FitReport(
        calibration=calibrator.kind,
        calibration_scores=scores,
        validation=metrics.evaluate(valid["Label"].to_numpy(), calibrator.apply(m_val)),
        folds={"train": 0, "calibration": len(cal), "validation": len(valid)},
    )
    return new, report
