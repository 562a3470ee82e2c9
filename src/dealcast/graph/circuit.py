"""A small circuit breaker for calls to a flaky dependency (the LLM).

closed    -> calls go through; `failure_threshold` consecutive failures open the circuit.
open      -> calls are refused (callers use their fallback at once) for `reset_after_s`.
half-open -> after that, ONE trial call is let through: success closes the circuit, failure
             opens it again for another `reset_after_s`.

Thread-safe (graph runs may share one breaker across threads and event loops). Breakers
are shared per dependency through `breaker(key)` so that every run of the process sees the
same state; `reset_breakers()` forgets them (tests).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"
FAILURE_THRESHOLD = 3
RESET_AFTER_S = 60.0


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = FAILURE_THRESHOLD,
        reset_after_s: float = RESET_AFTER_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError(f"failure_threshold must be >= 1, got {failure_threshold}")
        if reset_after_s <= 0:
            raise ValueError(f"reset_after_s must be > 0, got {reset_after_s}")
        self.failure_threshold = failure_threshold
        self.reset_after_s = reset_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0  # consecutive
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return CLOSED
        if self._clock() - self._opened_at >= self.reset_after_s:
            return HALF_OPEN
        return OPEN

    def allow(self) -> bool:
        """May a call go through now? In half-open state only one trial call at a time."""
        with self._lock:
            state = self._state()
            if state == CLOSED:
                return True
            if state == HALF_OPEN and not self._trial_running:
                self._trial_running = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            if self._trial_running or self._failures >= self.failure_threshold:
                self._opened_at = self._clock()
            self._trial_running = False

    def retry_in(self) -> float:
        """Seconds until a trial call is allowed (0 when closed or half-open)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self.reset_after_s - (self._clock() - self._opened_at))


_BREAKERS: dict[str, CircuitBreaker] = {}
_REGISTRY_LOCK = threading.Lock()


def breaker(key: str) -> CircuitBreaker:
    """The process-wide breaker of one dependency (e.g. an LLM base URL + model)."""
    with _REGISTRY_LOCK:
        found = _BREAKERS.get(key)
        if found is None:
            found = _BREAKERS[key] = CircuitBreaker()
        return found


def reset_breakers() -> None:
    with _REGISTRY_LOCK:
        _BREAKERS.clear()
