"""`dealcast forecast`: the champion's calibrated scores + history-fitted timing -> Monte Carlo.

`forecast` loads the pipeline as of T (`inputs.load_inputs`: scores stored and audited),
runs `engine.run_forecast` for the current and next N-1 periods, and stores the result as a
snapshot with its audit entry (`snapshots.save_forecast`). Quotas come from the store
(`dealcast quota load`). The same seed gives the same forecast for the same store state.
Month and quarter intervals are widened by how the newest stored backtest of that kind
missed (`interval_history`); `interval_calibration` in the payload says by how much, or why
not.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from dealcast.crm.store import Store
from dealcast.sim.engine import run_forecast
from dealcast.sim.inputs import PipelineInputs, load_inputs
from dealcast.sim.interval_history import stored_scale
from dealcast.sim.montecarlo import DEFAULT_LEVELS
from dealcast.sim.periods import PERIOD_KINDS, Period, periods_from
from dealcast.sim.quotas import quotas_frame
from dealcast.sim.snapshots import save_forecast

MAX_PERIODS = 24


def check_request(kind: str, n_periods: int, n_sims: int) -> None:
    if kind not in PERIOD_KINDS:
        raise ValueError(f"period must be one of {', '.join(PERIOD_KINDS)}; got {kind!r}")
    if not 1 <= n_periods <= MAX_PERIODS:
        raise ValueError(f"periods must be 1-{MAX_PERIODS}; got {n_periods}")
    if n_sims < 100:
        raise ValueError(f"simulations must be >= 100 for a usable interval; got {n_sims}")


def payload_for(
    inputs: PipelineInputs,
    periods: Sequence[Period],
    kind: str,
    seed: int,
    n_sims: int,
    levels: Sequence[float],
    store: Store,
    *,
    new_pipeline: bool = True,
) -> dict[str, Any]:
    scale, why_not = stored_scale(store, kind, inputs.as_of, inputs.won, levels)
    rows = run_forecast(
        inputs,
        periods,
        seed=seed,
        n_sims=n_sims,
        levels=levels,
        quotas=quotas_frame(store),
        new_pipeline=new_pipeline,
        interval_scale=scale,
    )
    for row in rows:
        row["model_version"], row["seed"] = inputs.model_version, seed
    return {
        "as_of": inputs.as_of,
        "period_kind": kind,
        "seed": seed,
        "n_sims": n_sims,
        "levels": list(levels),
        "model_version": inputs.model_version,
        "batch_id": inputs.batch_id,
        "open_deals": len(inputs.deals),
        "correlation_sigma": inputs.correlation.sigma if inputs.correlation else 0.0,
        "interval_calibration": scale.as_dict() if scale else {"factor": 1.0, "note": why_not},
        "periods": rows,
    }


def forecast(
    store: Store,
    as_of: datetime,
    kind: str,
    n_periods: int,
    seed: int,
    *,
    n_sims: int = 10_000,
    levels: Sequence[float] = DEFAULT_LEVELS,
    fiscal_start_month: int = 1,
    new_pipeline: bool = True,
    actor: str = "system",
) -> dict[str, Any]:
    """Forecast the current and next `n_periods - 1` periods of `kind` as of T; stored.
    `new_pipeline` adds the expected bookings of deals not created yet (a separate, labelled
    component of each period; see `new_pipeline.py`)."""
    check_request(kind, n_periods, n_sims)
    inputs = load_inputs(store, as_of, fiscal_start_month=fiscal_start_month, actor=actor)
    return forecast_inputs(
        store,
        inputs,
        kind,
        n_periods,
        seed,
        n_sims=n_sims,
        levels=levels,
        fiscal_start_month=fiscal_start_month,
        new_pipeline=new_pipeline,
        actor=actor,
    )


def forecast_inputs(
    store: Store,
    inputs: PipelineInputs,
    kind: str,
    n_periods: int,
    seed: int,
    *,
    n_sims: int = 10_000,
    levels: Sequence[float] = DEFAULT_LEVELS,
    fiscal_start_month: int = 1,
    new_pipeline: bool = True,
    actor: str = "system",
) -> dict[str, Any]:
    """`forecast` over inputs already loaded (e.g. with the scores a caller just computed)."""
    check_request(kind, n_periods, n_sims)
    periods = periods_from(inputs.as_of, kind, n_periods, fiscal_start_month=fiscal_start_month)
    payload = payload_for(
        inputs, periods, kind, seed, n_sims, levels, store, new_pipeline=new_pipeline
    )
    save_forecast(store, payload, actor=actor)
    return payload
