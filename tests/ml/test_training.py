from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.training import NotEnoughHistory, build_examples, time_split, train
from tests.demo_org import DemoOrg


@pytest.fixture(scope="module")
def examples(demo_org: DemoOrg) -> pd.DataFrame:
    return build_examples(FeatureInputs.load(demo_org.store, demo_org.as_of))


def test_examples_are_open_snapshots_of_deals_closed_before_t(
    examples: pd.DataFrame, demo_org: DemoOrg
) -> None:
    assert (examples["AsOf"] < examples["ClosedAt"]).all()
    assert (examples["ClosedAt"] <= pd.Timestamp(demo_org.as_of)).all()
    closes = demo_org.store.as_of(demo_org.as_of).opportunities()
    won = closes.set_index("Id")["IsWon"]
    assert (examples["Label"] == examples["OpportunityId"].map(won).astype(int)).all()
    # weekly, aligned so that the last snapshot is T itself
    offsets = (pd.Timestamp(demo_org.as_of) - examples["AsOf"]) / pd.Timedelta(days=7)
    assert np.allclose(offsets, offsets.round())
    assert examples.groupby("OpportunityId").size().max() > 4


def test_split_is_by_close_time(examples: pd.DataFrame) -> None:
    fold = time_split(examples)
    closed = examples.groupby(fold)["ClosedAt"]
    assert closed.max()["train"] <= closed.min()["calibration"]
    assert closed.max()["calibration"] <= closed.min()["validation"]
    deals = examples.assign(fold=fold).groupby("OpportunityId")["fold"].nunique()
    assert (deals == 1).all()  # a deal never straddles folds


def test_too_little_history_refuses_to_train(demo_org: DemoOrg) -> None:
    inputs = FeatureInputs.load(demo_org.store, datetime(2023, 9, 30))
    with pytest.raises(NotEnoughHistory, match="at least 50 won and 150 lost"):
        train(inputs)


def test_training_beats_the_stage_baseline_and_is_calibrated(demo_org: DemoOrg) -> None:
    result = train(FeatureInputs.load(demo_org.store, demo_org.as_of))
    summary = result.summary()
    assert summary["model"]["auc"] > summary["stage_probability_baseline"]["auc"] + 0.05
    assert summary["model"]["ece"] < 0.06
    assert summary["calibration"] in ("none", "platt", "isotonic")
    assert set(summary["folds"]) == {"train", "calibration", "validation"}
    assert len(result.data_hash) == 64
