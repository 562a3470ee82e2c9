"""`/v1/deals`: open deals with their scores (list) and one deal in full (detail)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool

from dealcast.api.deals import BadFilter, DealFilters, DealNotFound, deal_detail, list_deals
from dealcast.api.deps import CallerDep, StateDep, parse_as_of, unprocessable
from dealcast.api.schemas import DealDetail, DealList

router = APIRouter(prefix="/v1/deals", tags=["deals"])

AsOfQuery = Annotated[
    str | None,
    Query(description="YYYY-MM-DD (end of that day, UTC) or ISO datetime; default now."),
]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such open deal, or not one you can see."}
}


@router.get(
    "",
    response_model=DealList,
    summary="Open deals you can see, with scores; filter by owner, stage, risk, probability",
)
async def get_deals(
    state: StateDep,
    caller: CallerDep,
    owner: Annotated[str | None, Query(description="Owner's User Id.")] = None,
    stage: Annotated[str | None, Query(description="Open stage name.")] = None,
    risk: Annotated[
        str | None, Query(description="Risk code, e.g. stalled (computes risks: slower).")
    ] = None,
    min_probability: Annotated[float | None, Query(ge=0, le=100)] = None,
    max_probability: Annotated[float | None, Query(ge=0, le=100)] = None,
    as_of: AsOfQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DealList:
    instant = parse_as_of(as_of)
    try:
        filters = DealFilters(
            owner, stage, risk, min_probability, max_probability, limit, offset
        ).check(state.stages)
    except BadFilter as exc:
        raise unprocessable(("query", exc.field), str(exc)) from None
    result = await run_in_threadpool(list_deals, state.store, caller, instant, filters)
    return DealList.model_validate(result)


@router.get(
    "/{deal_id}",
    response_model=DealDetail,
    responses=NOT_FOUND,
    summary="One open deal: score, factors, confidence, risks with evidence, next best actions",
)
async def get_deal(
    state: StateDep,
    caller: CallerDep,
    deal_id: Annotated[str, Path(min_length=1, max_length=18, description="Opportunity Id.")],
    as_of: AsOfQuery = None,
) -> DealDetail:
    instant = parse_as_of(as_of)
    try:
        result = await run_in_threadpool(deal_detail, state.store, caller, instant, deal_id)
    except DealNotFound as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from None
    return DealDetail.model_validate(result)
