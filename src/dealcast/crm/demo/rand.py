"""Deterministic randomness for the demo org.

All randomness comes from `numpy.random.default_rng`, seeded from the caller's seed and a
fixed salt per purpose (`derive`), never from the clock or `hash()`. The per-deal loops need
millions of scalar draws; a numpy call per draw costs about a microsecond, so `Stream` pulls
blocks of uniforms and normals from a Generator and hands them out one at a time. The
consumption order is fixed by the code, so equal seeds give equal values.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# Salts: one independent generator per purpose, so adding draws to one phase does not
# shift the values of another.
SALT_ORG = 11
SALT_DEALS = 23
SALT_CHUNK = 37
_BLOCK = 8192


def derive(seed: int, salt: int, index: int = 0) -> np.random.Generator:
    """An independent generator for (seed, purpose, index)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, salt, index])


class Stream:
    """Scalar draws from pre-drawn numpy blocks."""

    __slots__ = ("_n", "_ni", "_rng", "_u", "_ui")

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._u: list[float] = []
        self._ui = _BLOCK
        self._n: list[float] = []
        self._ni = 0

    def u(self) -> float:
        """Uniform on [0, 1)."""
        i = self._ui
        if i >= _BLOCK:
            self._u = self._rng.random(_BLOCK).tolist()
            i = 0
        self._ui = i + 1
        return self._u[i]

    def normal(self) -> float:
        i = self._ni
        if i >= len(self._n):
            self._n = self._rng.standard_normal(2048).tolist()
            i = 0
        self._ni = i + 1
        return self._n[i]

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.u()

    def chance(self, p: float) -> bool:
        i = self._ui
        if i >= _BLOCK:
            self._u = self._rng.random(_BLOCK).tolist()
            i = 0
        self._ui = i + 1
        return self._u[i] < p

    def below(self, n: int) -> int:
        """Integer in [0, n)."""
        return int(self.u() * n)

    def between(self, low: int, high: int) -> int:
        """Integer in [low, high] (both included)."""
        return low + int(self.u() * (high - low + 1))

    def pick(self, seq: Sequence[T]) -> T:
        i = self._ui
        if i >= _BLOCK:
            self._u = self._rng.random(_BLOCK).tolist()
            i = 0
        self._ui = i + 1
        return seq[int(self._u[i] * len(seq))]

    def weighted(self, seq: Sequence[T], cum_weights: Sequence[float]) -> T:
        """Pick with cumulative weights (as from itertools.accumulate)."""
        x = self.u() * cum_weights[-1]
        return seq[min(bisect_right(cum_weights, x), len(seq) - 1)]

    def expo(self, mean: float) -> float:
        return -mean * math.log(1.0 - self.u())

    def lognormal(self, median: float, sigma: float) -> float:
        return median * math.exp(sigma * self.normal())

    def poisson(self, lam: float) -> int:
        if lam <= 0:
            return 0
        if lam > 30:
            return max(0, round(lam + math.sqrt(lam) * self.normal()))
        limit, k, p = math.exp(-lam), 0, self.u()
        while p > limit:
            k += 1
            p *= self.u()
        return k

    def sample(self, seq: Sequence[T], k: int) -> list[T]:
        """k distinct items (fewer if seq is shorter), in draw order."""
        pool = list(seq)
        out: list[T] = []
        for _ in range(min(k, len(pool))):
            out.append(pool.pop(int(self.u() * len(pool))))
        return out
