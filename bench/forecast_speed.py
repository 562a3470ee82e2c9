"""Forecast engine speed: Monte Carlo over 10k open deals x 10k simulations, with week, month
and quarter periods in one run, against a floor measured in the same process.

floor = drawing as many uniform random numbers as the simulation drew (`Forecast.draws`),
with numpy's default generator into a reused buffer, on one thread. Target: simulate < 1 s on
2 cores; the ratio to the floor says how much is left above bare random number generation.

    .venv/bin/python bench/forecast_speed.py [--deals 10000] [--sims 10000] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from dealcast.sim.montecarlo import Correlation, OpenDeals, simulate
from dealcast.sim.periods import Period, periods_from
from dealcast.sim.timing import AmountRatio, TimingModel

OUT = Path(__file__).resolve().parent / "out"
AS_OF = "2026-11-25"


def synthetic(n_deals: int, seed: int = 0) -> tuple[OpenDeals, TimingModel, AmountRatio]:
    """Open deals and a history shaped like the demo org's: p skewed low, log-normal amounts,
    close dates over the next ~7 months (some overdue), slips in three stage groups."""
    rng = np.random.default_rng(seed)
    groups = np.array(["early", "mid", "late"])
    hist = 20_000
    stated = np.datetime64("2026-01-01") + rng.integers(0, 300, hist).astype("timedelta64[D]")
    slips = rng.poisson(0.8, hist)
    late = rng.exponential(10 + 10 * slips).astype(int) - rng.integers(0, 10, hist)
    timing = TimingModel.fit(
        groups[rng.integers(0, 3, hist)], slips, stated, stated + late.astype("timedelta64[D]")
    )
    ratio = AmountRatio.fit(np.ones(5000), rng.lognormal(-0.05, 0.2, 5000))
    close = np.datetime64(AS_OF) + rng.integers(-15, 210, n_deals).astype("timedelta64[D]")
    buckets = timing.buckets(groups[rng.integers(0, 3, n_deals)], rng.poisson(0.8, n_deals))
    deals = OpenDeals.build(rng.beta(2, 4, n_deals), rng.lognormal(10, 1, n_deals), close, buckets)
    return deals, timing, ratio


def floor_seconds(draws: int, seed: int = 1) -> float:
    rng = np.random.default_rng(seed)
    buf = np.empty(min(draws, 10_000_000))
    start = time.perf_counter()
    left = draws
    while left > 0:
        k = min(left, len(buf))
        rng.random(out=buf[:k])
        left -= k
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deals", type=int, default=10_000)
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    deals, timing, ratio = synthetic(args.deals)
    periods: list[Period] = [
        *periods_from(AS_OF, "week", 13),
        *periods_from(AS_OF, "month", 6),
        *periods_from(AS_OF, "quarter", 4),
    ]
    results = {}
    for name, corr in (("independent", None), ("correlated", Correlation(0.3))):
        times, floors, draws = [], [], 0
        for rep in range(args.repeat):
            start = time.perf_counter()
            forecast = simulate(
                deals,
                periods,
                timing,
                args.sims,
                seed=rep,
                correlation=corr,
                amount_ratio=ratio,
                threads=args.threads,
            )
            times.append(time.perf_counter() - start)
            draws = forecast.draws
            floors.append(floor_seconds(draws))
        best, floor = min(times), min(floors)
        results[name] = {
            "seconds": round(best, 3),
            "floor_seconds": round(floor, 3),
            "ratio_to_floor": round(best / floor, 2),
            "draws": draws,
        }
        print(
            f"{name:12s} {args.deals:,} deals x {args.sims:,} sims x 3 period kinds "
            f"({len(periods)} periods): {best:.2f} s | floor ({draws:,} draws) {floor:.2f} s "
            f"| ratio {best / floor:.2f} | target < 1 s",
            flush=True,
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "forecast_speed.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
