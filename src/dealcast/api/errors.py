"""Exception handlers: an exhausted database pool is a 503 with Retry-After, not a 500."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout

log = logging.getLogger("dealcast.server")


def install(app: FastAPI, retry_after_s: int) -> None:
    async def pool_exhausted(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database pool exhausted on %s %s: %s", request.method, request.url.path, exc)
        return JSONResponse(
            status_code=503,
            content={"detail": "the database is busy (no free connection); retry shortly"},
            headers={"Retry-After": str(retry_after_s)},
        )

    app.add_exception_handler(PoolTimeout, pool_exhausted)
