"""Accuracy metrics on hand-computed numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from dealcast.sim import accuracy

# three periods: F = 110, 80, 50; A = 100, 100, 0
F = [110.0, 80.0, 50.0]
A = [100.0, 100.0, 0.0]


def test_wape_bias_and_mape_by_hand() -> None:
    # |F-A| = 10 + 20 + 50 = 80, ΣA = 200
    assert accuracy.wape(F, A) == pytest.approx(0.4)
    # Σ(F-A) = 10 - 20 + 50 = 40
    assert accuracy.bias(F, A) == pytest.approx(0.2)
    # A = 0 is skipped: mean(10/100, 20/100) = 0.15
    assert accuracy.mape(F, A) == (pytest.approx(0.15), 1)


def test_bias_sign_and_no_actuals() -> None:
    assert accuracy.bias([90.0], [100.0]) == pytest.approx(-0.1)
    assert accuracy.wape([5.0], [0.0]) is None
    assert accuracy.bias([5.0], [0.0]) is None
    assert accuracy.mape([5.0, 1.0], [0.0, 0.0]) == (None, 2)


def test_coverage_counts_both_ends_inside() -> None:
    actual = [100.0, 150.0, 90.0, 200.0]
    low = [80.0, 100.0, 95.0, 150.0]
    high = [120.0, 150.0, 130.0, 199.0]
    # 100 in, 150 on the edge (in), 90 below, 200 above
    assert accuracy.coverage(actual, low, high) == pytest.approx(0.5)
    assert accuracy.coverage([], [], []) is None
    with pytest.raises(ValueError, match="low > high"):
        accuracy.coverage([1.0], [2.0], [1.0])


def test_summarize_and_validation() -> None:
    s = accuracy.summarize(F, A, low=[100, 70, 0], high=[120, 90, 40])
    assert s.n == 3 and s.forecast_total == 240 and s.actual_total == 200
    assert s.wape == pytest.approx(0.4) and s.bias == pytest.approx(0.2)
    assert s.mape == pytest.approx(0.15) and s.mape_skipped == 1
    # 100 in [100, 120], 100 not in [70, 90], 0 in [0, 40]
    assert s.coverage == pytest.approx(2 / 3)
    assert accuracy.summarize(F, A).coverage is None
    with pytest.raises(ValueError, match="forecasts but"):
        accuracy.summarize([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="both ends"):
        accuracy.summarize(F, A, low=[0, 0, 0])
    with pytest.raises(ValueError, match="finite"):
        accuracy.wape([float("nan")], [1.0])


def test_per_rep_ratio_is_forecast_over_actual() -> None:
    frame = pd.DataFrame(
        {
            "owner_id": ["a", "a", "b", "c"],
            "forecast": [50.0, 60.0, 30.0, 10.0],
            "actual": [100.0, 50.0, 20.0, 0.0],
        }
    )
    reps = accuracy.per_rep(frame).set_index("owner_id")
    # a: 110 / 150, wape (50 + 10) / 150
    assert reps.loc["a", "ratio"] == pytest.approx(110 / 150)
    assert reps.loc["a", "wape"] == pytest.approx(0.4)
    assert reps.loc["a", "periods"] == 2
    assert reps.loc["b", "ratio"] == pytest.approx(1.5)
    assert reps.loc["c", "ratio"] is None and reps.loc["c", "wape"] is None
    assert list(reps.index) == ["a", "b", "c"]  # largest actual first
    summary = accuracy.per_rep_summary(reps.reset_index())
    assert summary["reps"] == 3 and summary["reps_with_actuals"] == 2
    assert summary["median_ratio"] == pytest.approx((110 / 150 + 1.5) / 2)
    assert summary["share_within_band"] == 0.0  # 0.73 and 1.5 both off by more than 20 %
    with pytest.raises(ValueError, match="columns"):
        accuracy.per_rep(frame.drop(columns="actual"))
