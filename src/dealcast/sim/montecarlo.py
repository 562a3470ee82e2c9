"""Monte Carlo period forecasts from per-deal win probabilities.

Each simulation: every open deal wins with its calibrated probability p; a winner closes on its
stated close date plus an offset drawn from its timing bucket, for its amount times a drawn
amount ratio; the period totals are summed. Everything runs on (deals x simulations) arrays,
in chunks of simulations so the chunks in flight need no more than `max_bytes`. Only won
(deal, simulation) cells go past the Bernoulli step; their offset and amount ratio come from
one 32-bit draw indexing 4096-point inverse-CDF tables (`TimingModel.quantile_table`), and one
bincount over (day, simulation) is folded into every period kind with a 0/1 matrix.

Conventions:
- an open deal cannot close before today (`today`, default the first period's start): its
  close offset is drawn from its timing distribution conditioned on landing on or after
  today (the tail beyond the days it is already overdue), so an overdue deal is not piled
  onto today but spread the way overdue deals actually closed; a day still before the first
  period's start counts on that start (`deterministic` moves overdue stated dates there too);
- a deal closing outside every period counts in none of them.

Correlation: deals in one period are not independent (a bad quarter hits everyone). With
`correlation`, each simulation draws one shock z ~ N(0, sigma²) shared by all deals, and
each deal's win odds are multiplied by exp(z): p' = expit(logit(p) + z). See `fit_correlation`.
The shock is centred on the log-odds scale, so it can move the mean win rate slightly away
from Σ p (Jensen); for the sigmas seen in practice (< 0.5) that is a few percent at most.

Roll-ups (`groups`: a group code per deal, e.g. its owner): each group's totals per period
and simulation come from the same draws as the whole pipeline's (one more bincount per
chunk), so a group of deals is forecast exactly as simulating it alone would in
distribution, and groups that add up (owners into a team) add up draw by draw.

Reproducibility: the same inputs, seed and `max_bytes` give identical totals; asking for
`groups` draws nothing extra, so it leaves the pipeline's totals unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from dealcast.sim.periods import Period, day_lookup, to_days
from dealcast.sim.timing import TABLE_SIZE, AmountRatio, TimingModel

MAX_BYTES = 500_000_000
# peak bytes per (deal, simulation) cell: uniform, threshold and its denominator (f32 each)
# and the mask, plus ~64 bytes per win (index, deal, sim, bits, offset, day, amount, key);
# sized for p = 1
BYTES_PER_CELL = 80
DEFAULT_LEVELS = (0.1, 0.5, 0.9)
MAX_THREADS = 4
TABLE_BITS = TABLE_SIZE.bit_length() - 1  # random bits per table lookup
assert 2 * TABLE_BITS <= 32 and 1 << TABLE_BITS == TABLE_SIZE

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OpenDeals:
    """Open deals as plain arrays; build with `OpenDeals.build`, which validates them."""

    p: F64  # calibrated win probability, 0-1
    amount: F64
    close: npt.NDArray[np.int64]  # stated close date, days since 1970-01-01
    bucket: npt.NDArray[np.int64] | None  # TimingModel bucket; None = the all-deals bucket

    @classmethod
    def build(cls, p: Any, amount: Any, close: Any, bucket: Any = None) -> OpenDeals:
        probs = np.asarray(p, dtype=np.float64)
        amounts = np.asarray(amount, dtype=np.float64)
        days = to_days(close)
        if not (probs.ndim == 1 and probs.shape == amounts.shape == days.shape):
            raise ValueError("p, amount and close must be 1-d arrays of the same length")
        if not np.all(np.isfinite(probs) & (probs >= 0) & (probs <= 1)):
            raise ValueError(
                "p must be probabilities in 0-1 (DealScore.win_probability is 0-100: divide by 100)"
            )
        if not np.all(np.isfinite(amounts) & (amounts >= 0)):
            raise ValueError("amount must be finite and >= 0 (fill missing amounts, e.g. with 0)")
        if np.any(days == np.iinfo(np.int64).min):
            raise ValueError("every open deal needs a stated close date")
        buckets = None if bucket is None else np.asarray(bucket, dtype=np.int64)
        if buckets is not None and buckets.shape != probs.shape:
            raise ValueError("bucket must have one entry per deal")
        return cls(probs, amounts, days, buckets)

    def __len__(self) -> int:
        return len(self.p)


@dataclass(frozen=True)
class Correlation:
    sigma: float  # standard deviation of the shared log-odds shock per simulation

    def __post_init__(self) -> None:
        if not (np.isfinite(self.sigma) and self.sigma >= 0):
            raise ValueError(f"correlation sigma must be finite and >= 0, got {self.sigma}")


def fit_correlation(period_win_rates: Any, deals_per_period: Any = None) -> Correlation:
    """The shared shock's sigma from historical win rates per period (one rate per closed
    period, e.g. per quarter: won / closed deals).

    Under the model, logit(rate_t) ≈ logit(mean rate) + z_t + sampling noise, and the noise
    of a rate over n deals has variance ≈ 1 / (n r (1 - r)). So sigma² is the variance of the
    logit rates minus the mean sampling variance, floored at 0. Without `deals_per_period`
    no noise is subtracted, which overstates sigma (wider, more cautious intervals).
    """
    rates = np.asarray(period_win_rates, dtype=np.float64)
    if rates.ndim != 1 or len(rates) < 3:
        raise ValueError("fit_correlation needs win rates for at least 3 periods")
    if not np.all(np.isfinite(rates) & (rates >= 0) & (rates <= 1)):
        raise ValueError("period win rates must be in 0-1")
    if deals_per_period is None:
        eps = np.full(rates.shape, 1e-3)
        noise = np.zeros(rates.shape)
    else:
        n = np.asarray(deals_per_period, dtype=np.float64)
        if n.shape != rates.shape or np.any(n < 1):
            raise ValueError("deals_per_period needs one count >= 1 per period")
        eps = 0.5 / n  # keep all-won / all-lost periods finite on the logit scale
    r = np.clip(rates, eps, 1 - eps)
    if deals_per_period is not None:
        noise = 1.0 / (n * r * (1 - r))
    logits = np.log(r / (1 - r))
    excess = float(np.var(logits, ddof=1) - np.mean(noise))
    return Correlation(float(np.sqrt(max(excess, 0.0))))


@dataclass(frozen=True)
class Forecast:
    periods: tuple[Period, ...]
    levels: tuple[float, ...]
    expected: F64  # per period
    quantiles: F64  # (levels, periods)
    deterministic: F64  # Σ p × amount of deals stated to close in the period
    totals: F64 | None  # (periods, simulations); None for a deterministic forecast
    method: str  # "monte_carlo" or "deterministic"
    n_sims: int
    draws: int = 0  # random numbers drawn (for the speed benchmark's floor)
    group_totals: F64 | None = None  # (groups, periods, simulations) when groups were given

    def quantile(self, level: float) -> F64:
        if level not in self.levels:
            raise ValueError(f"level {level} is not one of {self.levels}")
        return self.quantiles[self.levels.index(level)]

    def rows(self) -> list[dict[str, Any]]:
        """One row per period, e.g. for the CLI table or a JSON snapshot."""
        out = []
        for i, period in enumerate(self.periods):
            row: dict[str, Any] = {
                "kind": period.kind,
                "label": period.label,
                "start": period.start.isoformat(),
                "end": period.end.isoformat(),
                "expected": float(self.expected[i]),
            }
            for j, level in enumerate(self.levels):
                row[f"p{level * 100:g}"] = float(self.quantiles[j, i])
            row["deterministic"] = float(self.deterministic[i])
            out.append(row)
        return out


def _tables(
    periods: Sequence[Period],
) -> tuple[int, int, list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]]]:
    """Per period kind: the input positions of its periods, and a day -> local position
    table over a shared span [first, first + span) whose extra last column is "none" (the
    overflow row n_kind, discarded after counting: cheaper than masking)."""
    if not periods:
        raise ValueError("at least one period is needed")
    kinds = list(dict.fromkeys(p.kind for p in periods))
    groups = []
    for kind in kinds:
        pos = np.array([i for i, p in enumerate(periods) if p.kind == kind], dtype=np.int64)
        pos = pos[np.argsort([periods[i].start for i in pos], kind="stable")]
        groups.append((pos, day_lookup([periods[i] for i in pos])))
    first = min(f for _, (f, _) in groups)
    last = max(f + len(t) for _, (f, t) in groups)
    span = last - first
    out = []
    for pos, (f, table) in groups:
        full = np.full(span + 1, len(pos), dtype=np.int32)
        full[f - first : f - first + len(table)] = np.where(table < 0, len(pos), table)
        out.append((pos, full))
    return first, span, out


def tail_starts(
    deals: OpenDeals, buckets: npt.NDArray[np.int64], table: npt.NDArray[np.int32], today: int
) -> npt.NDArray[np.int64]:
    """Per deal, the first timing-table column whose offset lands on or after `today` (days
    since 1970): draws are taken uniformly from there on. Capped at the last column, whose
    day is then clipped up to today (a deal later than anything seen before)."""
    lo = np.zeros(len(deals), dtype=np.int64)
    for k in np.unique(buckets):
        rows = np.flatnonzero(buckets == k)
        lo[rows] = np.searchsorted(table[k], today - deals.close[rows], side="left")
    return np.minimum(lo, table.shape[1] - 1)


def _resolve_buckets(deals: OpenDeals, timing: TimingModel) -> npt.NDArray[np.int64]:
    if deals.bucket is None:
        return np.full(len(deals), len(timing.keys) - 1, dtype=np.int64)
    if len(deals) and (deals.bucket.min() < 0 or deals.bucket.max() >= len(timing.keys)):
        raise ValueError(f"timing buckets must be 0-{len(timing.keys) - 1} (TimingModel.buckets)")
    return deals.bucket


class _Run:
    """One simulation's fixed inputs; `chunk` simulates a block of simulations."""

    def __init__(
        self,
        deals: OpenDeals,
        buckets: npt.NDArray[np.int64],
        timing: TimingModel,
        ratio: AmountRatio,
        sigma: float,
        first: int,
        span: int,
        tables: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int32]]],
        today: int,
        groups: npt.NDArray[np.int64] | None = None,
        n_groups: int = 0,
    ) -> None:
        self.n, self.sigma, self.span = len(deals), sigma, span
        self.groups, self.n_groups, self.tables = groups, n_groups, tables
        self.p32 = deals.p.astype(np.float32)
        self.q32 = (1 - deals.p).astype(np.float32)
        self.amount32 = deals.amount.astype(np.float32)
        self.close = deals.close - first  # days from the first period's start
        # a deal's timing row in the flattened inverse-CDF table
        table = timing.quantile_table(TABLE_SIZE)
        self.offsets = table.ravel()
        self.lo = tail_starts(deals, buckets, table, today)
        self.row = buckets * TABLE_SIZE + self.lo  # draws start at the deal's tail
        self.width = TABLE_SIZE - self.lo  # and spread over the rest of the table
        self.today = max(0, today - first)
        self.ratios = ratio.quantile_table(TABLE_SIZE)
        # day -> period indicator per kind: daily totals @ indicator.T = period totals
        self.kinds = [
            (pos, (table[None, :] == np.arange(len(pos))[:, None]).astype(np.float64))
            for pos, table in tables
        ]

    def chunk(
        self,
        totals: F64,
        start: int,
        sc: int,
        stream: np.random.SeedSequence,
        group_totals: F64 | None = None,
    ) -> int:
        """Fill totals[:, start:start + sc] (and group_totals[:, :, start:start + sc]);
        returns how many random numbers it drew."""
        rng = np.random.Generator(np.random.PCG64(stream))
        u = rng.random((self.n, sc), dtype=np.float32)
        draws = self.n * sc
        if self.sigma > 0:
            # odds × e^z without a logit/expit per cell: p' = p·c / (1 - p + p·c), c = e^z
            c = np.exp(rng.normal(0.0, self.sigma, sc)).astype(np.float32)
            draws += sc
            threshold = self.p32[:, None] * c[None, :]
            threshold /= threshold + self.q32[:, None]
            won = np.flatnonzero(u < threshold)
            del threshold
        else:
            won = np.flatnonzero(u < self.p32[:, None])
        del u
        # won deals only from here: with typical p most (deal, sim) cells drop out
        deal, sim = np.divmod(won, sc)
        del won
        # one 32-bit draw per win: low bits pick the close offset, the next the amount ratio
        bits = rng.integers(0, 2**32, size=len(deal), dtype=np.uint32)
        draws += len(deal)
        pick = ((bits & (TABLE_SIZE - 1)).astype(np.int64) * self.width[deal]) >> TABLE_BITS
        offset = self.offsets[self.row[deal] + pick]
        day = np.clip(self.close[deal] + offset, self.today, self.span)
        amount = self.amount32[deal] * self.ratios[(bits >> TABLE_BITS) & (TABLE_SIZE - 1)]
        if group_totals is not None and self.groups is not None:
            self._group_chunk(group_totals, start, sc, self.groups[deal], day, sim, amount)
        del deal, bits, offset
        # one bincount over (day, sim) serves every period kind
        daily = np.bincount(day * sc + sim, weights=amount, minlength=(self.span + 1) * sc)
        daily = daily.reshape(self.span + 1, sc)
        for pos, indicator in self.kinds:
            totals[pos, start : start + sc] = indicator @ daily
        return draws

    def _group_chunk(
        self,
        group_totals: F64,
        start: int,
        sc: int,
        group: npt.NDArray[np.int64],
        day: npt.NDArray[np.int64],
        sim: npt.NDArray[np.int64],
        amount: npt.NDArray[np.float32],
    ) -> None:
        """The same wins summed per (group, period, simulation): per kind, each win's period
        (the overflow slot len(pos) = none), then one bincount."""
        for pos, table in self.tables:
            slots = len(pos) + 1
            key = (group * slots + table[day]) * sc + sim
            sums = np.bincount(key, weights=amount, minlength=self.n_groups * slots * sc)
            sums = sums.reshape(self.n_groups, slots, sc)[:, : len(pos), :]
            group_totals[:, pos, start : start + sc] = sums


def deterministic(deals: OpenDeals, periods: Sequence[Period]) -> Forecast:
    """Σ p × amount per period by stated close date: no randomness, cannot fail on sizes."""
    first, span, tables = _tables(periods)
    rel = np.clip(deals.close - first, 0, span)
    values = np.zeros(len(periods))
    for pos, table in tables:
        sums = np.bincount(table[rel], weights=deals.p * deals.amount, minlength=len(pos) + 1)
        values[pos] = sums[: len(pos)]
    quantiles = np.tile(values, (len(DEFAULT_LEVELS), 1))
    return Forecast(
        tuple(periods), DEFAULT_LEVELS, values, quantiles, values, None, "deterministic", 0
    )


def simulate(
    deals: OpenDeals,
    periods: Sequence[Period],
    timing: TimingModel,
    n_sims: int,
    seed: int,
    correlation: Correlation | None = None,
    *,
    amount_ratio: AmountRatio | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
    max_bytes: int = MAX_BYTES,
    threads: int | None = None,
    today: Any = None,
    groups: Any = None,
) -> Forecast:
    """Monte Carlo totals per period (periods of several kinds share the same simulations).
    `threads` (default: all cores, at most MAX_THREADS) changes speed, never results;
    `max_bytes` caps memory and, as it sets the chunking, is part of what makes a run
    reproducible. `groups` (a code 0..G-1 per deal) adds `group_totals`."""
    levels = tuple(float(x) for x in levels)
    if n_sims < 1:
        raise ValueError(f"n_sims must be >= 1, got {n_sims}")
    if not levels or not all(0 <= x <= 1 for x in levels):
        raise ValueError("levels must be quantile levels in 0-1, e.g. (0.1, 0.5, 0.9)")
    buckets = _resolve_buckets(deals, timing)
    codes, n_groups = _group_codes(groups, len(deals))
    first, span, tables = _tables(periods)
    ratio = amount_ratio or AmountRatio.identity()
    sigma = correlation.sigma if correlation else 0.0
    n = len(deals)
    # up to MAX_THREADS chunks are in memory at once: each gets a share of the budget. The
    # chunk size must not depend on `threads`, or the thread count would change the streams.
    chunk = int(max(1, min(n_sims, max_bytes // max(1, BYTES_PER_CELL * n * MAX_THREADS))))
    starts = list(range(0, n_sims, chunk))
    # one independent stream per chunk, derived from the seed: reproducible chunk by chunk
    streams = np.random.SeedSequence(seed).spawn(len(starts))
    today_days = first if today is None else int(to_days([today])[0])
    run = _Run(
        deals, buckets, timing, ratio, sigma, first, span, tables, today_days, codes, n_groups
    )
    totals = np.zeros((len(periods), n_sims))
    group_totals = None if codes is None else np.zeros((n_groups, len(periods), n_sims))
    jobs = [(a, min(chunk, n_sims - a), st) for a, st in zip(starts, streams, strict=True)]
    # numpy releases the GIL in the heavy loops, so threads use several cores; chunks write
    # disjoint columns of `totals` and draw from their own streams, so the order is irrelevant
    workers = max(1, min(threads or os.cpu_count() or 1, MAX_THREADS, len(jobs)))

    def one(job: tuple[int, int, np.random.SeedSequence]) -> int:
        return run.chunk(totals, job[0], job[1], job[2], group_totals)

    if workers == 1:
        draws = sum(one(job) for job in jobs)
    else:
        with ThreadPoolExecutor(workers) as pool:
            draws = sum(pool.map(one, jobs))
    det = deterministic(deals, periods)
    return Forecast(
        periods=tuple(periods),
        levels=levels,
        expected=totals.mean(axis=1),
        quantiles=np.quantile(totals, levels, axis=1).reshape(len(levels), len(periods)),
        deterministic=det.deterministic,
        totals=totals,
        method="monte_carlo",
        n_sims=n_sims,
        draws=draws,
        group_totals=group_totals,
    )


def _group_codes(groups: Any, n: int) -> tuple[npt.NDArray[np.int64] | None, int]:
    if groups is None:
        return None, 0
    codes = np.asarray(groups, dtype=np.int64)
    if codes.shape != (n,) or (n and codes.min() < 0):
        raise ValueError("groups must give every deal a group code >= 0")
    return codes, int(codes.max()) + 1 if n else 0
