"""Liveness and readiness probes (no API key: orchestrators call them)."""

from __future__ import annotations

from typing import Any

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from dealcast.api.deps import StateDep
from dealcast.api.freshness import status_of
from dealcast.api.schemas import Health, Readiness
from dealcast.crm.db import alembic_config
from dealcast.crm.store import Store
from dealcast.ml.registry import Registry
from dealcast.ml.rules import RULES_VERSION

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Health:
    return Health()


def readiness(store: Store) -> dict[str, Any]:
    """Each check's outcome: database reachable, migrations at head, model registry readable."""
    checks: dict[str, str] = {}
    out: dict[str, Any] = {"checks": checks, "migration": None, "model_version": None}
    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            current = set(MigrationContext.configure(conn).get_current_heads())
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}: {exc}"
        checks["migrations"] = "unknown (database unreachable)"
        checks["model_registry"] = "unknown (database unreachable)"
        return out
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    out["migration"] = ",".join(sorted(current)) or None
    if current == heads:
        checks["migrations"] = "ok"
    else:
        checks["migrations"] = (
            f"database at {', '.join(sorted(current)) or 'no revision'}, "
            f"code expects {', '.join(sorted(heads))}"
        )
    try:
        champion = Registry(store.engine).champion()
        out["model_version"] = champion.version if champion else RULES_VERSION
        checks["model_registry"] = "ok"
    except Exception as exc:
        checks["model_registry"] = f"unreadable: {type(exc).__name__}: {exc}"
    return out


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Ready to serve: database reachable, migrations at head, model registry readable",
    responses={503: {"model": Readiness, "description": "A check failed."}},
)
async def readyz(state: StateDep, response: Response) -> Readiness:
    result = await run_in_threadpool(readiness, state.store)
    data = await status_of(state)  # alerts inform; they never make the server unready
    result["alerts"] = list(data.alerts) if data is not None else []
    ready = all(v == "ok" for v in result["checks"].values())
    if not ready:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Readiness(status="ready" if ready else "not ready", **result)
