from __future__ import annotations

import time
from datetime import date

import numpy as np
import pytest

from dealcast.sim.montecarlo import (
    Correlation,
    Forecast,
    OpenDeals,
    deterministic,
    fit_correlation,
    simulate,
)
from dealcast.sim.periods import Period, periods_from
from dealcast.sim.timing import AmountRatio, TimingModel

AS_OF = "2025-10-01"
QUARTER = periods_from(AS_OF, "quarter", 1)
MONTHS = periods_from(AS_OF, "month", 3)


def _deals(n: int, seed: int = 0, days: int = 80) -> OpenDeals:
    rng = np.random.default_rng(seed)
    close = np.datetime64(AS_OF) + rng.integers(0, days, n).astype("timedelta64[D]")
    return OpenDeals.build(rng.uniform(0.05, 0.95, n), rng.lognormal(10, 1, n), close)


def _timing(seed: int = 0) -> TimingModel:
    rng = np.random.default_rng(seed)
    stated = np.full(500, np.datetime64("2025-03-31"))
    offsets = rng.integers(-15, 30, 500).astype("timedelta64[D]")
    return TimingModel.fit(["any"] * 500, np.zeros(500, int), stated, stated + offsets)


def _width(f: Forecast) -> np.ndarray:
    return f.quantile(0.9) - f.quantile(0.1)


def test_same_seed_same_forecast_different_seed_different() -> None:
    deals, periods = _deals(300), MONTHS + QUARTER
    a = simulate(deals, periods, _timing(), 2000, seed=7, max_bytes=2_000_000)
    b = simulate(deals, periods, _timing(), 2000, seed=7, max_bytes=2_000_000, threads=1)
    c = simulate(deals, periods, _timing(), 2000, seed=8, max_bytes=2_000_000)
    assert a.totals is not None and b.totals is not None and c.totals is not None
    assert np.array_equal(a.totals, b.totals)  # threads change speed, not results
    assert not np.array_equal(a.totals, c.totals)


def test_expected_matches_sum_of_p_times_amount_without_timing_noise() -> None:
    deals = _deals(200, days=90)
    f = simulate(deals, MONTHS + QUARTER, TimingModel.exact(), 20_000, seed=1)
    assert f.totals is not None
    sem = f.totals.std(axis=1) / np.sqrt(f.n_sims)
    assert np.all(np.abs(f.expected - f.deterministic) < 4 * sem)
    assert f.deterministic[-1] == pytest.approx(np.sum(deals.p * deals.amount))
    # months tile the quarter: every simulation's month totals add up to its quarter total
    assert np.allclose(f.totals[:3].sum(axis=0), f.totals[3], rtol=1e-6)


def test_deterministic_fallback_and_past_close_dates() -> None:
    close = np.array(["2025-08-15", "2025-10-02", "2025-11-30", "2026-05-01"], "datetime64[D]")
    deals = OpenDeals.build([0.5, 0.5, 1.0, 1.0], [100, 10, 7, 1000], close)
    f = deterministic(deals, MONTHS)
    # the overdue deal counts in the current period; the one after every period in none
    assert f.deterministic.tolist() == [55.0, 7.0, 0.0]
    assert f.method == "deterministic" and f.totals is None
    assert f.rows()[0] == {
        "kind": "month",
        "label": "2025-10",
        "start": "2025-10-01",
        "end": "2025-10-31",
        "expected": 55.0,
        "p10": 55.0,
        "p50": 55.0,
        "p90": 55.0,
        "deterministic": 55.0,
    }
    sim = simulate(deals, MONTHS, TimingModel.exact(), 50, seed=0, levels=(0.25, 0.75))
    assert [k for k in sim.rows()[0] if k.startswith("p")] == ["p25", "p75"]
    assert sim.totals is not None and np.all(sim.totals[1] == 7.0)


def _coverage(forecast: Forecast, actuals: Forecast) -> np.ndarray:
    assert actuals.totals is not None
    lo, hi = forecast.quantile(0.1)[:, None], forecast.quantile(0.9)[:, None]
    inside = (actuals.totals >= lo) & (actuals.totals <= hi)
    return np.asarray(inside.mean(axis=1))


def test_p10_p90_covers_about_80_percent_of_outcomes_from_the_same_process() -> None:
    deals, timing = _deals(400, days=85), _timing()
    ratio = AmountRatio(np.array([0.7, 0.9, 1.0, 1.0, 1.1]))
    periods = MONTHS + QUARTER
    forecast = simulate(deals, periods, timing, 5000, seed=1, amount_ratio=ratio)
    actuals = simulate(deals, periods, timing, 3000, seed=2, amount_ratio=ratio)
    assert np.all(np.abs(_coverage(forecast, actuals) - 0.8) < 0.04)
    # a correlated world: the correlated forecast still covers ~80%, the independent one less
    corr = Correlation(0.6)
    world = simulate(deals, periods, timing, 3000, seed=3, correlation=corr, amount_ratio=ratio)
    corr_fc = simulate(deals, periods, timing, 5000, seed=4, correlation=corr, amount_ratio=ratio)
    assert np.all(np.abs(_coverage(corr_fc, world) - 0.8) < 0.04)
    assert np.all(_coverage(forecast, world) < 0.7)


def test_correlation_widens_intervals() -> None:
    deals = _deals(500)
    plain = simulate(deals, QUARTER, TimingModel.exact(), 4000, seed=5)
    shocked = simulate(
        deals, QUARTER, TimingModel.exact(), 4000, seed=5, correlation=Correlation(0.5)
    )
    assert _width(shocked)[0] > 1.5 * _width(plain)[0]
    # a zero shock is the independent model (same streams apart from the shock draw)
    none = simulate(deals, QUARTER, TimingModel.exact(), 4000, seed=5, correlation=Correlation(0))
    assert none.totals is not None and plain.totals is not None
    assert np.array_equal(none.totals, plain.totals)


def test_fit_correlation_recovers_the_shock() -> None:
    rng = np.random.default_rng(0)
    n, periods, base = 400, 300, np.log(0.3 / 0.7)
    z = rng.normal(0, 0.5, periods)
    rates = rng.binomial(n, 1 / (1 + np.exp(-(base + z)))) / n
    assert fit_correlation(rates, np.full(periods, n)).sigma == pytest.approx(0.5, abs=0.07)
    # pure binomial noise: nothing left after subtracting the sampling variance
    calm = rng.binomial(n, 0.3, periods) / n
    assert fit_correlation(calm, np.full(periods, n)).sigma < 0.1
    # without counts the noise is not subtracted: a cautious (larger) sigma
    assert fit_correlation(calm).sigma > fit_correlation(calm, np.full(periods, n)).sigma
    with pytest.raises(ValueError, match="at least 3"):
        fit_correlation([0.2, 0.3])
    with pytest.raises(ValueError, match="0-1"):
        fit_correlation([0.2, 0.3, 30])


def test_small_memory_budget_chunks_the_simulations() -> None:
    deals = _deals(1000)
    f = simulate(deals, QUARTER, _timing(), 3000, seed=2, max_bytes=1_000_000)
    g = simulate(deals, QUARTER, _timing(), 3000, seed=2)
    assert f.expected[0] == pytest.approx(g.expected[0], rel=0.02)


def test_bad_inputs_are_rejected_with_the_valid_options() -> None:
    with pytest.raises(ValueError, match="divide by 100"):
        OpenDeals.build([55.0], [1.0], ["2025-10-01"])
    with pytest.raises(ValueError, match="fill missing amounts"):
        OpenDeals.build([0.5], [np.nan], ["2025-10-01"])
    with pytest.raises(ValueError, match="stated close date"):
        OpenDeals.build([0.5], [1.0], [None])
    deals = OpenDeals.build([0.5], [1.0], ["2025-10-01"], bucket=[3])
    with pytest.raises(ValueError, match=r"TimingModel\.buckets"):
        simulate(deals, QUARTER, TimingModel.exact(), 10, seed=0)
    ok = OpenDeals.build([0.5], [1.0], ["2025-10-01"])
    with pytest.raises(ValueError, match=r"0\.1, 0\.5, 0\.9"):
        simulate(ok, QUARTER, TimingModel.exact(), 10, seed=0, levels=(10, 50))
    with pytest.raises(ValueError, match="n_sims"):
        simulate(ok, QUARTER, TimingModel.exact(), 0, seed=0)
    with pytest.raises(ValueError, match="at least one period"):
        deterministic(ok, [])
    with pytest.raises(ValueError, match="not one of"):
        simulate(ok, QUARTER, TimingModel.exact(), 10, seed=0).quantile(0.95)


def test_no_deals_forecasts_zero() -> None:
    empty = OpenDeals.build([], [], np.array([], dtype="datetime64[D]"))
    f = simulate(empty, MONTHS, _timing(), 100, seed=0)
    assert f.expected.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.slow
def test_speed_sanity_10k_deals_10k_sims_three_period_kinds() -> None:
    rng = np.random.default_rng(0)
    n = 10_000
    close = np.datetime64(AS_OF) + rng.integers(-10, 200, n).astype("timedelta64[D]")
    timing = _timing()
    deals = OpenDeals.build(rng.beta(2, 4, n), rng.lognormal(10, 1, n), close, np.zeros(n, int))
    periods: list[Period] = [
        *periods_from(AS_OF, "week", 13),
        *periods_from(AS_OF, "month", 6),
        *periods_from(AS_OF, "quarter", 4),
    ]
    start = time.perf_counter()
    f = simulate(deals, periods, timing, 10_000, seed=0)
    elapsed = time.perf_counter() - start
    assert f.totals is not None and f.totals.shape == (23, 10_000)
    assert elapsed < 60  # a loose guard against a Python loop over deals; bench/ measures


def test_offsets_move_deals_between_periods_and_ratios_scale_amounts() -> None:
    deals = OpenDeals.build([1.0, 1.0], [100.0, 50.0], ["2025-10-20", "2025-11-10"])
    stated = np.full(40, np.datetime64("2025-01-01"))
    slow = TimingModel.fit(["g"] * 40, np.zeros(40, int), stated, stated + np.timedelta64(21, "D"))
    f = simulate(deals, MONTHS, slow, 200, seed=0, amount_ratio=AmountRatio(np.array([0.5])))
    assert f.expected.tolist() == [0.0, 50.0, 25.0]  # both slip 21 days, then are halved
    assert f.deterministic.tolist() == [100.0, 50.0, 0.0]
    even = AmountRatio(np.array([0.5, 1.5]))
    g = simulate(deals, QUARTER, TimingModel.exact(), 20_000, seed=0, amount_ratio=even)
    assert g.expected[0] == pytest.approx(150.0, rel=0.01)
    # each deal draws its own ratio: totals 75, 125, 175, 225 a quarter of the time each
    assert g.quantile(0.1)[0] == pytest.approx(75.0) and g.quantile(0.9)[0] == pytest.approx(225)


def test_an_overdue_deal_closes_on_the_tail_of_its_timing_not_all_today() -> None:
    from dealcast.sim.expectation import period_probabilities

    # deals close 0-199 days after their stated date; this one is 100 days overdue, so it
    # closes uniformly over the next ~100 days: about a third in each coming month
    timing = TimingModel.fit(
        np.array(["s"] * 200),
        np.zeros(200, int),
        np.array(["2025-01-01"] * 200, dtype="datetime64[D]"),
        np.datetime64("2025-01-01") + np.arange(200),
    )
    today = date(2025, 11, 1)
    deals = OpenDeals.build([1.0], [100.0], [np.datetime64("2025-07-24")], [0])
    periods = periods_from(today, "month", 4)
    result = simulate(deals, periods, timing, 20_000, 1, today=today)
    share = result.expected / 100.0
    assert share[0] == pytest.approx(0.30, abs=0.03) and share[1] == pytest.approx(0.31, abs=0.03)
    assert share[:4].sum() == pytest.approx(1.0, abs=0.01)
    exact = period_probabilities(deals, periods, timing, today)[0]
    assert np.allclose(exact, share, atol=0.02)
    # without `today` the old convention piles nothing before the first period's start
    assert simulate(deals, periods, timing, 2000, 1).expected.sum() == pytest.approx(100.0)
