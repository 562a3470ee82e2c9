"""Fault injection for the emulator: what a real org (or the network to it) can do to us.

Every option is off by default. Counters are per emulator and thread-safe; randomness is
seeded so a failing test replays exactly.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass


@dataclass
class Faults:
    # Refuse REST/Bulk calls with 403 REQUEST_LIMIT_EXCEEDED once this many API calls were
    # made, for `rate_limit_calls` calls (None: until the limit is reset).
    rate_limit_after: int | None = None
    rate_limit_calls: int | None = None
    # Fraction of API calls answered 500/503 (seeded).
    error_rate: float = 0.0
    # Seconds added to API calls, on a `latency_rate` fraction of them (seeded).
    latency: float = 0.0
    latency_rate: float = 1.0
    # Sessions expire (401 INVALID_SESSION_ID) after this many API calls each.
    session_ttl_calls: int | None = None
    # "Object.Field=NewName": fields renamed by an admin (served under the new name).
    renamed_fields: tuple[str, ...] = ()
    seed: int = 0


@dataclass(frozen=True)
class Decision:
    status: int = 0  # 0 = serve normally
    code: str = ""
    message: str = ""
    delay: float = 0.0


class FaultState:
    """Decides, per API call, whether a fault fires."""

    def __init__(self, faults: Faults) -> None:
        self.faults = faults
        self.rng = random.Random(faults.seed)
        self.lock = threading.Lock()
        self.refused = 0

    def decide(self, call_number: int) -> Decision:
        f = self.faults
        with self.lock:
            delay = 0.0
            if f.latency and self.rng.random() < f.latency_rate:
                delay = f.latency
            if (
                f.rate_limit_after is not None
                and call_number > f.rate_limit_after
                and (f.rate_limit_calls is None or self.refused < f.rate_limit_calls)
            ):
                self.refused += 1
                return Decision(
                    403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", delay
                )
            if f.error_rate and self.rng.random() < f.error_rate:
                if self.rng.random() < 0.5:
                    return Decision(
                        503, "SERVER_UNAVAILABLE", "Server temporarily unavailable", delay
                    )
                return Decision(
                    500,
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred. Please include this ErrorId if you contact "
                    "support: 1234567890-12345 (-1234567890)",
                    delay,
                )
            return Decision(delay=delay)
