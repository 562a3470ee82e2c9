from __future__ import annotations

import json

import numpy as np
import pytest

from dealcast.sim.timing import AmountRatio, TimingModel

STATED = np.datetime64("2025-06-30")


def _history() -> tuple[list[str], list[int], np.ndarray, np.ndarray]:
    """late/0 slips: 40 deals closing 5 days late; late/1: 10 deals (too few) 20 days late;
    early: 20 deals (too few for the group) 60 days late."""
    groups = ["late"] * 40 + ["late"] * 10 + ["early"] * 20
    slips = [0] * 40 + [1] * 10 + [0] * 20
    offsets = np.array([5] * 40 + [20] * 10 + [60] * 20)
    stated = np.full(len(groups), STATED)
    return groups, slips, stated, stated + offsets.astype("timedelta64[D]")


def test_thin_buckets_fall_back_to_coarser_ones() -> None:
    model = TimingModel.fit(*_history())
    assert model.keys == ("late|0", "late|*", "*|*")
    b = model.buckets(["late", "late", "late", "early", "unknown"], [0, 1, 7, 0, 0])
    assert [model.keys[i] for i in b] == ["late|0", "late|*", "late|*", "*|*", "*|*"]
    rng = np.random.default_rng(0)
    draws = model.sample(b, rng, 500)
    assert draws.shape == (5, 500)
    assert set(draws[0]) == {5}
    assert set(draws[1]) == {5, 20}  # the late group over all slip counts
    assert set(draws[3]) == {5, 20, 60}  # everyone
    assert model.p_late(b).tolist() == [1.0] * 5


def test_empirical_frequencies_and_p_late() -> None:
    rng = np.random.default_rng(1)
    offsets = np.concatenate([np.full(300, -3), np.zeros(300, int), np.full(400, 10)])
    stated = np.full(len(offsets), STATED)
    model = TimingModel.fit(
        ["mid"] * len(offsets), np.zeros(len(offsets), int), stated, stated + offsets
    )
    b = model.buckets(["mid"], [0])
    assert model.p_late(b)[0] == pytest.approx(0.4)
    draws = model.sample(np.repeat(b, 2000), rng, 50)
    assert np.mean(draws == 10) == pytest.approx(0.4, abs=0.01)
    assert np.mean(draws == -3) == pytest.approx(0.3, abs=0.01)
    assert model.sample(b, rng).shape == (1,)


def test_slip_counts_cap_at_max_slip() -> None:
    n = 60
    stated = np.full(n, STATED)
    model = TimingModel.fit(["g"] * n, [2] * 30 + [5] * 30, stated, stated, max_slip=2)
    assert "g|2+" in model.keys and model.buckets(["g"], [9])[0] == model.keys.index("g|2+")


def test_missing_dates_are_skipped_and_bad_input_rejected() -> None:
    stated = np.array(["2025-01-01", "NaT"], dtype="datetime64[D]")
    model = TimingModel.fit(["g", "g"], [0, 0], stated, stated)
    assert model.counts.tolist() == [1]
    with pytest.raises(ValueError, match="no closed deals"):
        TimingModel.fit(["g"], [0], ["NaT"], ["2025-01-01"])
    with pytest.raises(ValueError, match="length"):
        TimingModel.fit(["g"], [0, 1], stated, stated)


def test_round_trips_through_json() -> None:
    model = TimingModel.fit(*_history())
    again = TimingModel.from_dict(json.loads(json.dumps(model.to_dict())))
    assert again.keys == model.keys
    assert np.array_equal(again.values, model.values)
    b = model.buckets(["late", "early"], [1, 0])
    assert np.array_equal(
        model.sample(b, np.random.default_rng(3), 20), again.sample(b, np.random.default_rng(3), 20)
    )
    with pytest.raises(ValueError, match=r"\*\|\*"):
        TimingModel.from_dict({"max_slip": 2, "buckets": {"g|0": [1]}})


def test_exact_timing_never_moves_a_date() -> None:
    model = TimingModel.exact()
    assert not model.sample(np.zeros(10, int), np.random.default_rng(0), 10).any()


def test_amount_ratio() -> None:
    ratio = AmountRatio.fit([100, 100, 0, np.nan, 200], [80, 120, 50, 10, 200])
    assert ratio.ratios.tolist() == [0.8, 1.0, 1.2]
    draws = ratio.sample(np.random.default_rng(0), (100, 30))
    assert draws.shape == (100, 30)
    assert np.allclose(np.unique(draws), [0.8, 1.0, 1.2])
    again = AmountRatio.from_dict(json.loads(json.dumps(ratio.to_dict())))
    assert np.array_equal(again.ratios, ratio.ratios)
    assert AmountRatio.identity().sample(np.random.default_rng(0), 3).tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match="positive snapshot amount"):
        AmountRatio.fit([0], [10])
    with pytest.raises(ValueError, match=">= 0"):
        AmountRatio.from_dict({"ratios": [-1]})


def test_quantile_tables_match_the_empirical_distributions() -> None:
    offsets = np.concatenate([np.full(300, -3), np.zeros(300, int), np.full(400, 10)])
    stated = np.full(len(offsets), STATED)
    model = TimingModel.fit(["g"] * 1000, np.zeros(1000, int), stated, stated + offsets)
    table = model.quantile_table(4096)
    assert table.shape == (len(model.keys), 4096)
    for row in table:
        assert np.mean(row == -3) == pytest.approx(0.3, abs=1 / 4096)
        assert np.mean(row == 10) == pytest.approx(0.4, abs=1 / 4096)
    ratios = AmountRatio(np.array([0.5, 1.0, 2.0])).quantile_table(3000)
    assert [np.mean(ratios == r) for r in (0.5, 1.0, 2.0)] == pytest.approx([1 / 3] * 3)
