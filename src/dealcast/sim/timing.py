"""When and for how much open deals close, learned from deals that already closed.

`TimingModel` keeps, per bucket (stage group at the snapshot x slip count so far), the
empirical distribution of (actual close - stated close) in days, and P(actual > stated).
Buckets with fewer than `min_count` examples are not kept: their deals fall back to the
stage group over all slip counts, then to every deal (`*|*`), so a thin bucket never drives a
forecast. Slip counts at or above `max_slip` share one bucket (`2+` by default).

`AmountRatio` is the empirical distribution of won amount / amount at the snapshot.

`sample` draws uniform indices into the stored examples (a bootstrap), vectorised over all
deals and simulations at once; `quantile_table` gives the same distributions as fixed-size
inverse-CDF tables, which the Monte Carlo indexes with random bits (much faster at 1e8 draws).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from dealcast.sim.periods import to_days

ANY = "*"
MIN_COUNT = 30
TABLE_SIZE = 4096  # points per inverse-CDF table; a power of two, indexed by random bits


def _slip_label(slips: npt.NDArray[np.int64], max_slip: int) -> npt.NDArray[np.str_]:
    labels = np.clip(slips, 0, max_slip).astype(str)
    return np.where(slips >= max_slip, f"{max_slip}+", labels)


def _inverse_cdf(sorted_values: npt.NDArray[Any], size: int) -> npt.NDArray[Any]:
    # column i stands for uniform draws in [i/size, (i+1)/size): the example that u hits
    return sorted_values[(np.arange(size) * len(sorted_values)) // size]


@dataclass(frozen=True)
class TimingModel:
    keys: tuple[str, ...]  # "group|slips", "group|*" or "*|*" (always last)
    starts: npt.NDArray[np.int64]  # bucket k's offsets are values[starts[k]:starts[k]+counts[k]]
    counts: npt.NDArray[np.int64]
    values: npt.NDArray[np.int32]  # offsets in days, sorted within each bucket
    max_slip: int = 2

    @classmethod
    def fit(
        cls,
        stage_group: Any,
        slip_count: Any,
        stated_close: Any,
        actual_close: Any,
        *,
        min_count: int = MIN_COUNT,
        max_slip: int = 2,
    ) -> TimingModel:
        """Fit from closed deals seen at snapshots: stage group and slip count at the snapshot,
        the close date stated then, and the date the deal actually closed."""
        if min_count < 1 or max_slip < 1:
            raise ValueError("min_count and max_slip must be >= 1")
        groups = np.asarray(stage_group).astype(str)
        slips = np.asarray(slip_count, dtype=np.int64)
        stated, actual = to_days(stated_close), to_days(actual_close)
        if not (len(groups) == len(slips) == len(stated) == len(actual)):
            raise ValueError("stage_group, slip_count, stated and actual close differ in length")
        missing = np.iinfo(np.int64).min  # to_days' value for a missing date
        ok = (stated != missing) & (actual != missing)
        offsets = actual - stated
        groups, slips, offsets = groups[ok], slips[ok], offsets[ok]
        if len(offsets) == 0:
            raise ValueError("no closed deals with both a stated and an actual close date")
        frame = pd.DataFrame(
            {"g": groups, "s": _slip_label(slips, max_slip), "o": offsets.astype(np.int32)}
        )
        buckets: list[tuple[str, npt.NDArray[np.int32]]] = []
        for (g, s), part in frame.groupby(["g", "s"], sort=True):
            if len(part) >= min_count:
                buckets.append((f"{g}|{s}", np.sort(part["o"].to_numpy())))
        for (g,), part in frame.groupby(["g"], sort=True):
            if len(part) >= min_count:
                buckets.append((f"{g}|{ANY}", np.sort(part["o"].to_numpy())))
        buckets.append((f"{ANY}|{ANY}", np.sort(frame["o"].to_numpy())))
        return cls._from_buckets(buckets, max_slip)

    @classmethod
    def _from_buckets(
        cls, buckets: list[tuple[str, npt.NDArray[np.int32]]], max_slip: int
    ) -> TimingModel:
        counts = np.array([len(v) for _, v in buckets], dtype=np.int64)
        if np.any(counts == 0):
            raise ValueError("every timing bucket needs at least one example")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        values = np.concatenate([v for _, v in buckets]).astype(np.int32)
        return cls(tuple(k for k, _ in buckets), starts, counts, values, max_slip)

    @classmethod
    def exact(cls) -> TimingModel:
        """Deals close exactly on their stated date (no history, or for tests)."""
        return cls._from_buckets([(f"{ANY}|{ANY}", np.zeros(1, dtype=np.int32))], 2)

    def buckets(self, stage_group: Any, slip_count: Any) -> npt.NDArray[np.int64]:
        """Bucket position per deal: its own bucket when kept, else its stage group's, else
        the all-deals bucket."""
        groups = np.asarray(stage_group).astype(str)
        slips = _slip_label(np.asarray(slip_count, dtype=np.int64), self.max_slip)
        if groups.shape != slips.shape:
            raise ValueError("stage_group and slip_count differ in length")
        codes, uniques = pd.factorize(pd.Series(groups, dtype=object) + "|" + slips)
        position = {k: i for i, k in enumerate(self.keys)}
        fallback = position[f"{ANY}|{ANY}"]
        # a loop over distinct (group, slips) pairs, never over deals
        resolved = np.array(
            [
                position.get(key, position.get(f"{key.rsplit('|', 1)[0]}|{ANY}", fallback))
                for key in uniques
            ],
            dtype=np.int64,
        )
        return resolved[codes] if len(resolved) else np.zeros(0, dtype=np.int64)

    def p_late(self, buckets: Any) -> npt.NDArray[np.float64]:
        """P(actual close after the stated date) per bucket position."""
        late = np.array(
            [np.mean(self._bucket(k) > 0) for k in range(len(self.keys))], dtype=np.float64
        )
        return late[np.asarray(buckets, dtype=np.int64)]

    def _bucket(self, k: int) -> npt.NDArray[np.int32]:
        return self.values[self.starts[k] : self.starts[k] + self.counts[k]]

    def sample(
        self, buckets: Any, rng: np.random.Generator, size: int | None = None
    ) -> npt.NDArray[np.int32]:
        """Close-date offsets in days: shape (deals, size), or (deals,) when size is None."""
        b = np.asarray(buckets, dtype=np.int64)
        shape = b.shape if size is None else (*b.shape, size)
        u = rng.random(shape, dtype=np.float32)
        n = self.counts[b] if size is None else self.counts[b][..., None]
        start = self.starts[b] if size is None else self.starts[b][..., None]
        # float32 u < 1, so floor(u * n) <= n - 1 except for rounding at huge n: clip
        pick = np.minimum((u * n).astype(np.int64), n - 1)
        return self.values[start + pick]

    def quantile_table(self, size: int = TABLE_SIZE) -> npt.NDArray[np.int32]:
        """(buckets, size) inverse CDFs: row k at a uniform random column is a draw from bucket
        k with each example's weight exact to within 1/size. The simulator indexes these with
        random bits, far cheaper than `sample` over hundreds of millions of draws."""
        return np.stack([_inverse_cdf(self._bucket(k), size) for k in range(len(self.keys))])

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_slip": self.max_slip,
            "buckets": {k: self._bucket(i).tolist() for i, k in enumerate(self.keys)},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TimingModel:
        buckets = [(k, np.asarray(v, dtype=np.int32)) for k, v in data["buckets"].items()]
        if f"{ANY}|{ANY}" not in data["buckets"]:
            raise ValueError("a timing model needs the all-deals bucket '*|*'")
        buckets.sort(key=lambda kv: kv[0] == f"{ANY}|{ANY}")
        return cls._from_buckets(buckets, int(data["max_slip"]))


@dataclass(frozen=True)
class AmountRatio:
    ratios: npt.NDArray[np.float64]  # won amount / amount at the snapshot, sorted

    @classmethod
    def fit(cls, snapshot_amount: Any, won_amount: Any) -> AmountRatio:
        """Fit from won deals; rows with a missing or non-positive snapshot amount are skipped
        (their ratio is undefined)."""
        before = np.asarray(snapshot_amount, dtype=np.float64)
        after = np.asarray(won_amount, dtype=np.float64)
        if before.shape != after.shape:
            raise ValueError("snapshot_amount and won_amount differ in length")
        ok = np.isfinite(before) & np.isfinite(after) & (before > 0) & (after >= 0)
        if not ok.any():
            raise ValueError("no won deals with a positive snapshot amount")
        return cls(np.sort(after[ok] / before[ok]))

    @classmethod
    def identity(cls) -> AmountRatio:
        return cls(np.ones(1))

    def sample(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> npt.NDArray[Any]:
        if len(self.ratios) == 1:  # nothing random to draw: skip the RNG work
            return np.full(size, self.ratios[0], dtype=np.float32)
        pick = rng.integers(0, len(self.ratios), size=size)
        return self.ratios.astype(np.float32)[pick]

    def quantile_table(self, size: int = TABLE_SIZE) -> npt.NDArray[np.float32]:
        """The ratios' inverse CDF at `size` evenly spaced points (see TimingModel's)."""
        return _inverse_cdf(self.ratios, size).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        return {"ratios": self.ratios.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AmountRatio:
        ratios = np.sort(np.asarray(data["ratios"], dtype=np.float64))
        if len(ratios) == 0 or not np.all(np.isfinite(ratios)) or np.any(ratios < 0):
            raise ValueError("amount ratios must be a non-empty list of finite numbers >= 0")
        return cls(ratios)
