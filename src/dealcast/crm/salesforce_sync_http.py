"""HTTP plumbing for the Salesforce sync: loopback routing, call metering, retries.

simple-salesforce builds every URL as https://...; `loopback_session` mounts an adapter
that sends them to a plain-HTTP server on loopback (the emulator), unmodified otherwise.
"""

from __future__ import annotations

import contextlib
import logging
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceRefusedRequest,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


class _TimeoutAdapter(HTTPAdapter):
    """Applies a default timeout (simple-salesforce passes none on several calls)."""

    def __init__(self, timeout: float, target: str | None = None) -> None:
        super().__init__(pool_connections=4, pool_maxsize=8)
        self.timeout = timeout
        self.target = urlsplit(target) if target else None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        if self.target is not None and request.url:
            parts = urlsplit(request.url)
            request.url = urlunsplit(
                (self.target.scheme, self.target.netloc, parts.path, parts.query, "")
            )
        return super().send(request, **kwargs)


@dataclass
class CallMeter:
    """Counts HTTP calls and keeps the latest Sforce-Limit-Info and server clock."""

    calls: int = 0
    used: int | None = None
    total: int | None = None
    server_time: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        with self.lock:
            self.calls += 1
            match = _USAGE.search(response.headers.get("Sforce-Limit-Info", ""))
            if match:
                self.used, self.total = int(match.group(1)), int(match.group(2))
            stamp = response.headers.get("Date")
            if stamp:
                with contextlib.suppress(TypeError, ValueError):
                    self.server_time = parsedate_to_datetime(stamp).astimezone(UTC)

    def now(self) -> datetime:
        """The server's clock as last seen (falls back to ours)."""
        return self.server_time or datetime.now(UTC)


def make_session(loopback: str | None, timeout: float, meter: CallMeter) -> requests.Session:
    """A requests session for simple-salesforce: timeouts everywhere, every response
    metered, and (for the emulator) https:// routed to `loopback` (http://127.0.0.1:P)."""
    session = requests.Session()
    if loopback:
        session.mount("https://", _TimeoutAdapter(timeout, loopback))
    else:
        session.mount("https://", _TimeoutAdapter(timeout))
    session.hooks["response"].append(meter.hook)
    return session


def loopback_session(port: int, timeout: float = 10.0) -> requests.Session:
    """A plain session that routes simple-salesforce's https:// calls to 127.0.0.1:port."""
    return make_session(f"http://127.0.0.1:{port}", timeout, CallMeter())


# ---- retries --------------------------------------------------------------------------


class RateLimited(RuntimeError):
    """The org refused calls (REQUEST_LIMIT_EXCEEDED) or our daily budget is spent."""


def error_code(exc: SalesforceError) -> str | None:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode"))
    return None


def error_message(exc: SalesforceError) -> str:
    content = exc.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("message"))
    return str(content)


@dataclass
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5  # timeouts and 5xx: base * 2^k * jitter
    max_delay: float = 30.0
    rate_limit_delay: float = 60.0  # REQUEST_LIMIT_EXCEEDED: wait, then try again
    rate_limit_attempts: int = 3
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int, base: float) -> float:
        return min(self.max_delay, base * 2**attempt) * self.rng.uniform(0.5, 1.5)


@dataclass
class CallStats:
    retries: int = 0
    rate_limited: int = 0
    reauths: int = 0


def call_with_retries(
    fn: Callable[[], T],
    policy: RetryPolicy,
    reauth: Callable[[], None],
    stats: CallStats,
    what: str,
) -> T:
    """Run one API call (or one Bulk job) with the sync's failure rules: timeouts and 5xx
    retried with jitter (`attempts` in all); REQUEST_LIMIT_EXCEEDED backed off; an expired
    session re-authenticated once; every other 4xx raised at once."""
    attempt = limited = 0
    reauthed = False
    while True:
        try:
            return fn()
        except SalesforceExpiredSession:
            if reauthed:
                raise
            reauthed = True
            stats.reauths += 1
            log.warning("%s: session expired, re-authenticating once", what)
            reauth()
            continue
        except SalesforceRefusedRequest as exc:
            if error_code(exc) != "REQUEST_LIMIT_EXCEEDED":
                raise
            limited += 1
            stats.rate_limited += 1
            if limited >= policy.rate_limit_attempts:
                raise RateLimited(f"{what}: API request limit exceeded") from exc
            wait = policy.delay(limited - 1, policy.rate_limit_delay)
            log.warning("%s: REQUEST_LIMIT_EXCEEDED, backing off %.1fs", what, wait)
            policy.sleep(wait)
            continue
        except SalesforceGeneralError as exc:
            if exc.status < 500:
                raise
            failure: Exception = exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            failure = exc
        attempt += 1
        if attempt >= policy.attempts:
            raise failure
        stats.retries += 1
        wait = policy.delay(attempt - 1, policy.base_delay)
        log.warning("%s: %s; retry %d in %.2fs", what, type(failure).__name__, attempt, wait)
        policy.sleep(wait)
