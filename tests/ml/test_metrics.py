from __future__ import annotations

import numpy as np
import pytest

from dealcast.ml import metrics


def test_known_values() -> None:
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    assert metrics.auc(y, p) == pytest.approx(0.75)
    assert metrics.brier(y, p) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert metrics.log_loss(y, p) == pytest.approx(-np.mean(np.log([0.9, 0.6, 0.35, 0.8])))


def test_perfectly_calibrated_predictions_have_small_ece() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200_000)
    y = rng.uniform(size=p.size) < p
    assert metrics.ece(y, p) < 0.01
    assert metrics.ece(y, np.clip(p + 0.2, 0, 1)) > 0.15  # and miscalibration shows


def test_reliability_table_bins() -> None:
    table = metrics.reliability_table([0, 1, 1], [0.05, 0.95, 1.0], bins=10)
    assert len(table) == 10
    assert table[0]["count"] == 1 and table[9]["count"] == 2
    assert table[9]["observed_rate"] == 1.0


def test_single_class_auc_is_nan_and_shapes_are_checked() -> None:
    assert np.isnan(metrics.auc([1, 1], [0.2, 0.3]))
    with pytest.raises(ValueError, match="shape"):
        metrics.brier([1, 0], [0.5])
