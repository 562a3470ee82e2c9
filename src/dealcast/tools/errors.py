"""Which tool failures are worth retrying.

Transient (retried by the graph's RetryPolicy, then recorded): lost or busy database
connections and network errors. Everything else a tool raises is recorded at once as the
subtask's error (bad values, missing deals, bugs in the library): retrying cannot fix it,
and a 4xx-like refusal must never be retried.
"""

from __future__ import annotations

from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


class TransientToolError(Exception):
    """Raised by a tool for a failure that may pass on its own (retry it)."""


TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    TransientToolError,
    OperationalError,  # "database is locked", server closed the connection
    DisconnectionError,
    PoolTimeoutError,  # connection pool exhausted
    ConnectionError,  # builtin: refused/reset/aborted sockets (not requests' 4xx errors)
)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT_ERRORS)
