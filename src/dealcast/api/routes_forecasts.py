"""`/v1/forecasts` and `/v1/scenarios`: Monte Carlo forecasts, their history, what-ifs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool

from dealcast.api import forecasts
from dealcast.api.deals import BadFilter
from dealcast.api.deps import CallerDep, StateDep, parse_as_of, unprocessable
from dealcast.api.schemas import (
    ForecastHistory,
    ForecastOut,
    ForecastRequest,
    ScenarioOut,
    ScenarioRequest,
)

router = APIRouter(tags=["forecasts"])


@router.post(
    "/v1/forecasts",
    response_model=ForecastOut,
    summary="Forecast this and the next periods (stored and audited)",
    description="Org-level numbers for every role; `by_owner`/`by_manager` roll-ups only for "
    "the people you can see (a rep: their own row).",
)
async def post_forecast(state: StateDep, caller: CallerDep, body: ForecastRequest) -> ForecastOut:
    as_of = parse_as_of(body.as_of, ("body", "as_of"))
    result = await run_in_threadpool(
        forecasts.run_forecast,
        state.store,
        caller,
        as_of,
        body.period,
        body.periods,
        body.seed,
        body.n_sims,
        fiscal_start_month=state.settings.fiscal_start_month,
        new_pipeline=body.new_pipeline,
    )
    return ForecastOut.model_validate(result)


@router.get(
    "/v1/forecasts/history",
    response_model=ForecastHistory,
    summary="How a period's forecast and the human calls on it moved over time",
)
async def get_forecast_history(
    state: StateDep,
    caller: CallerDep,
    period: Annotated[str, Query(description="A period label: 2026-Q3, 2026-07, 2026-W27.")],
) -> ForecastHistory:
    try:
        result = await run_in_threadpool(
            forecasts.forecast_history,
            state.store,
            caller,
            period,
            fiscal_start_month=state.settings.fiscal_start_month,
        )
    except BadFilter as exc:
        raise unprocessable(("query", exc.field), str(exc)) from None
    return ForecastHistory.model_validate(result)


@router.post(
    "/v1/scenarios",
    response_model=ScenarioOut,
    summary="What-if: the forecast with your changes beside the baseline (CRM untouched)",
    description="Reps and managers may only name deals and owners they can see.",
)
async def post_scenario(state: StateDep, caller: CallerDep, body: ScenarioRequest) -> ScenarioOut:
    as_of = parse_as_of(body.as_of, ("body", "as_of"))
    try:
        result = await run_in_threadpool(
            forecasts.scenario,
            state.store,
            caller,
            as_of,
            [c.as_change() for c in body.changes],
            state.stages,
            name=body.name,
            kind=body.period,
            n_periods=body.periods,
            seed=body.seed,
            n_sims=body.n_sims,
            fiscal_start_month=state.settings.fiscal_start_month,
        )
    except BadFilter as exc:
        loc = ("body", *(int(p) if p.isdigit() else p for p in exc.field.split(".")))
        raise unprocessable(loc, str(exc)) from None
    return ScenarioOut.model_validate(result)
