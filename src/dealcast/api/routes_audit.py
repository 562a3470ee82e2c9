"""`/v1/audit`: the hash-chained audit log, newest first (finance and admin only)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from dealcast.api.deps import SeesAllDep, StateDep
from dealcast.api.schemas import AuditPage
from dealcast.crm.store import Store

router = APIRouter(prefix="/v1/audit", tags=["audit"])


def audit_page(store: Store, action: str | None, limit: int, offset: int) -> dict[str, Any]:
    rows = store.audit_entries(action=action, limit=offset + limit + 1)
    page = rows[offset : offset + limit]
    more = len(rows) > offset + limit
    return {
        "entries": [asdict(e) for e in page],
        "limit": limit,
        "offset": offset,
        "next_offset": offset + limit if more else None,
    }


@router.get(
    "",
    response_model=AuditPage,
    responses={403: {"description": "Only finance and admin read the audit log."}},
    summary="Audit entries, newest first, paged",
)
async def get_audit(
    state: StateDep,
    caller: SeesAllDep,
    action: Annotated[str | None, Query(description="Only this action, e.g. forecast.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> AuditPage:
    result = await run_in_threadpool(audit_page, state.store, action, limit, offset)
    return AuditPage.model_validate(result)
