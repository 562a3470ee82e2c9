"""Backtests: rebuild the pipeline as it stood at past dates, forecast, compare with what
was actually booked, beside naive baselines computed in the same run.

Snapshot dates: the start of every period (month or fiscal quarter) that begins inside
[start, end]. For the period beginning on day D the forecast is made as of
T = D 00:00 minus one microsecond (23:59:59.999999 on D - 1, `walkforward.instant_before`):
`store.as_of(T)` sees every row created on or before D - 1 and nothing created on D. At T:
- ours: `load_inputs(store, T, probabilities)` with walk-forward probabilities
  (`walkforward.WalkForward`: a model trained only on deals closed by the latest quarter
  start <= T, or the rules / stage scorer) and `engine.run_forecast` for that one period.
  The point forecast is `expected` (with the not-yet-created pipeline component unless
  `new_pipeline=False`, as the forecast CLI and API do); the interval is the lowest-highest
  level (P10-P90), widened by the misses of this run's earlier snapshots whose period ended
  before T (`interval_calibration`; `interval_raw` is the simulated one). So that the first
  snapshots are calibrated too, the `warmup` periods just before `start` (those after the
  data began) are forecast the same way first, used only for calibration and not scored.
- stage_weighted: Σ Salesforce Probability × Amount of the deals open at T with their
  stated CloseDate inside the period;
- commit: Σ Amount of the open deals in the Commit forecast category stated to close inside;
- seasonal_naive_yoy: bookings of the same period one year earlier, as known at T;
- seasonal_naive_prev_quarter (months only): bookings of the same month of the previous
  quarter (3 months earlier), as known at T — the Maven reference's best naive.
  Both baselines also add what was already won inside the period by T (0 at a period start);
  a seasonal naive whose earlier period began before the first deal existed is None and
  the method is scored on the periods it has (`n`).
Actual: deals won with ClosedAt inside the period, read from the latest store state
(`actuals_as_of`, default now); a period not over by then (its last second, 23:59:59,
not yet reached) is skipped and listed in `summary.skipped_incomplete`.

Metrics (`accuracy`): WAPE, MAPE, signed bias per method, interval coverage for ours, and
per-rep accuracy (our per-owner expected ÷ the owner's actual bookings). Each run is stored in
`backtest_run` with an audit entry in the same transaction; `list_runs` is the historical
accuracy tracker.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import insert, select

from dealcast.crm import audit
from dealcast.crm.schema import backtest_run
from dealcast.crm.store import Store
from dealcast.sim import accuracy
from dealcast.sim.engine import run_forecast
from dealcast.sim.expectation import expected_matrix
from dealcast.sim.inputs import PipelineInputs, load_inputs
from dealcast.sim.interval_calibration import MIN_PERIODS, fit_scale
from dealcast.sim.interval_history import past_periods
from dealcast.sim.montecarlo import DEFAULT_LEVELS
from dealcast.sim.periods import Period, periods_from
from dealcast.sim.walkforward import SCORERS, WalkForward, instant_before

BACKTEST_KINDS = ("month", "quarter")
BASELINES = ("stage_weighted", "commit", "seasonal_naive_yoy", "seasonal_naive_prev_quarter")
DEFAULT_SIMS = 5_000
CALIBRATED_ON = "earlier periods of this backtest"


@dataclass
class BacktestResult:
    period_kind: str
    start: date
    end: date
    scorer: str
    seed: int
    n_sims: int
    rows: list[dict[str, Any]]
    summary: dict[str, Any]
    run_id: int | None = None
    skipped: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "period_kind": self.period_kind,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "scorer": self.scorer,
            "seed": self.seed,
            "n_sims": self.n_sims,
            "summary": self.summary,
            "rows": self.rows,
        }


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date (YYYY-MM-DD)") from exc


def snapshot_periods(
    start: date | str, end: date | str, kind: str, *, fiscal_start_month: int = 1
) -> list[Period]:
    """Every period of `kind` whose first day is inside [start, end]."""
    if kind not in BACKTEST_KINDS:
        raise ValueError(f"backtest period {kind!r} is not one of {', '.join(BACKTEST_KINDS)}")
    first, last = _as_date(start), _as_date(end)
    if last < first:
        raise ValueError(f"--to {last} is before --from {first}")
    months = (last.year - first.year) * 12 + last.month - first.month + 2  # periods >= 1 month
    candidates = periods_from(first, kind, months, fiscal_start_month=fiscal_start_month)
    out = [p for p in candidates if first <= p.start <= last]
    if not out:
        raise ValueError(f"no {kind} starts between {first} and {last}")
    return out


def _shifted(period: Period, months: int, fiscal_start_month: int) -> Period:
    total = period.start.year * 12 + period.start.month - 1 + months
    day = date(total // 12, total % 12 + 1, 1)
    (out,) = periods_from(day, period.kind, 1, fiscal_start_month=fiscal_start_month)
    return out


def _booked(won: pd.DataFrame, period: Period) -> float:
    days = won["ClosedAt"].dt.date
    inside = (days >= period.start) & (days <= period.end)
    return float(won.loc[inside, "Amount"].fillna(0.0).sum())


def _stated_inside(deals: pd.DataFrame, period: Period) -> pd.Series:
    days = pd.to_datetime(deals["CloseDate"]).dt.date
    return (days >= period.start) & (days <= period.end)


def backtest(
    store: Store,
    start: date | str,
    end: date | str,
    period_kind: str,
    *,
    scorer: str = "model",
    seed: int = 7,
    n_sims: int = DEFAULT_SIMS,
    levels: Sequence[float] = DEFAULT_LEVELS,
    actor: str = "system",
    actuals_as_of: datetime | None = None,
    fiscal_start_month: int = 1,
    record: bool = True,
    walk: WalkForward | None = None,
    progress: Callable[[str], None] | None = None,
    new_pipeline: bool = True,
    warmup: int = MIN_PERIODS,
) -> BacktestResult:
    """Backtest every `period_kind` starting in [start, end]; see the module docstring."""
    if scorer not in SCORERS:
        raise ValueError(f"scorer {scorer!r} is not one of {', '.join(SCORERS)}")
    if n_sims < 100:
        raise ValueError(f"use at least 100 simulations for an interval, got {n_sims}")
    first, last = _as_date(start), _as_date(end)
    periods = snapshot_periods(first, last, period_kind, fiscal_start_month=fiscal_start_month)
    final_at = actuals_as_of or datetime.now(UTC).replace(tzinfo=None)
    final = store.as_of(final_at).opportunities()
    # a period is over once its last second is known (23:59:59 counts: exports stamp
    # whole seconds, and a bare as-of date means 23:59:59.999999)
    over = [final_at >= datetime.combine(p.end, time(23, 59, 59)) for p in periods]
    skipped = [p.label for p, done in zip(periods, over, strict=True) if not done]
    periods = [p for p, done in zip(periods, over, strict=True) if done]
    if not periods:
        raise ValueError(
            f"no {period_kind} between {first} and {last} is over by {final_at:%Y-%m-%d}: "
            "there is nothing to compare with yet"
        )
    won_final = final[final["IsWon"] & final["ClosedAt"].notna()]
    data_start = final["CreatedDate"].min().date() if len(final) else None
    walk = walk or WalkForward(store, scorer, fiscal_start_month=fiscal_start_month)
    if walk.scorer != scorer:
        raise ValueError(f"the WalkForward scores with {walk.scorer!r}, not {scorer!r}")
    lv = sorted({float(x) for x in levels} | {0.5})
    low_key, high_key = f"p{lv[0] * 100:g}", f"p{lv[-1] * 100:g}"
    rows: list[dict[str, Any]] = []
    warm: list[dict[str, Any]] = []  # forecast only to calibrate the first intervals
    warm_periods = _warmup_periods(periods[0], warmup, data_start, fiscal_start_month)
    for period in [*warm_periods, *periods]:
        t = instant_before(period.start)
        warming = period in warm_periods
        if progress:
            what = "warm-up, calibration only" if warming else "scoring and forecasting"
            progress(f"{period.label}: {what} as of {t:%Y-%m-%d %H:%M:%S.%f}")
        pit = walk.scores(t)
        inputs = load_inputs(store, t, pit.probabilities, pit.model_version, actor=actor)
        past = past_periods(warm + rows, period.start, inputs.won)
        scale = fit_scale(past, lv[-1] - lv[0], CALIBRATED_ON)
        (forecast,) = run_forecast(
            inputs,
            [period],
            seed=seed,
            n_sims=n_sims,
            levels=lv,
            rollups=True,
            group_sims=0,
            new_pipeline=new_pipeline,
            interval_scale=scale,
        )
        booked_at_t = forecast["closed_won"]
        deals = inputs.deals
        inside = _stated_inside(deals, period)
        amount = deals["Amount"].fillna(0.0)
        baselines: dict[str, float | None] = {
            "stage_weighted": booked_at_t
            + float((deals["Probability"].fillna(0.0) / 100.0 * amount)[inside].sum()),
            "commit": booked_at_t
            + float(amount[inside & (deals["ForecastCategoryName"] == "Commit")].sum()),
        }
        earlier = {"seasonal_naive_yoy": _shifted(period, -12, fiscal_start_month)}
        if period_kind == "month":
            earlier["seasonal_naive_prev_quarter"] = _shifted(period, -3, fiscal_start_month)
        for name, prior in earlier.items():
            known = data_start is not None and prior.start >= data_start
            baselines[name] = booked_at_t + _booked(inputs.won, prior) if known else None
        won_in = won_final[
            (won_final["ClosedAt"].dt.date >= period.start)
            & (won_final["ClosedAt"].dt.date <= period.end)
        ]
        actual = float(won_in["Amount"].fillna(0.0).sum())
        new_deals = won_in["CreatedDate"] > pd.Timestamp(t)
        owners = pd.DataFrame(
            [
                {"owner_id": r["owner_id"], "forecast": r["expected"]}
                for r in forecast.get("by_owner", [])
            ],
            columns=["owner_id", "forecast"],
        )
        actual_by_owner = won_in.groupby("OwnerId")["Amount"].sum()
        by_owner = (
            owners.groupby("owner_id")["forecast"]
            .sum()
            .to_frame()
            .join(actual_by_owner.rename("actual"), how="outer")
            .fillna(0.0)
        )
        low, high = forecast[low_key], forecast[high_key]
        diagnostics = _diagnostics(inputs, period, inside, won_in)
        rows.append(
            {
                "period": period.label,
                "start": period.start.isoformat(),
                "end": period.end.isoformat(),
                "as_of": t.isoformat(),
                "scorer_used": pit.used,
                "model_version": pit.model_version,
                "note": pit.note,
                "open_deals": len(deals),
                "method": forecast["method"],
                "actual": actual,
                "actual_deals": len(won_in),
                "actual_from_deals_created_after_as_of": float(
                    won_in.loc[new_deals, "Amount"].fillna(0.0).sum()
                ),
                "closed_won_at_as_of": booked_at_t,
                "forecast": {
                    "ours": forecast["expected"],
                    "ours_p50": forecast["p50"],
                    **baselines,
                },
                "interval": {"low": low, "high": high, "levels": [lv[0], lv[-1]]},
                "interval_raw": _raw_interval(forecast, low_key, high_key),
                "interval_calibration": forecast.get("interval_calibration"),
                "new_pipeline": (forecast.get("new_pipeline") or {}).get("expected"),
                "inside": None if low is None else bool(low <= actual <= high),
                "by_owner": [
                    {"owner_id": str(o), "forecast": float(f), "actual": float(a)}
                    for o, f, a in by_owner[["forecast", "actual"]].itertuples()
                ],
                "diagnostics": diagnostics,
            }
        )
        if warming:
            warm.append(rows.pop())
    summary = summarize(rows, period_kind)
    summary["warmup_periods"] = [p.label for p in warm_periods]
    summary["skipped_incomplete"] = skipped
    summary["training"] = {c.isoformat(): note for c, note in walk.trained.items()}
    summary["actuals_as_of"] = final_at.isoformat()
    result = BacktestResult(period_kind, first, last, scorer, seed, n_sims, rows, summary)
    result.skipped = skipped
    if record:
        result.run_id = _record(store, result, actor, final_at)
    return result


def _raw_interval(forecast: dict[str, Any], low_key: str, high_key: str) -> dict[str, Any]:
    raw = forecast.get("interval_raw") or forecast
    return {"low": raw[low_key], "high": raw[high_key]}


def _warmup_periods(
    first: Period, n: int, data_start: date | None, fiscal_start_month: int
) -> list[Period]:
    """The `n` periods just before `first` that began after the data did, oldest first."""
    step = 3 if first.kind == "quarter" else 1
    earlier = [_shifted(first, -step * k, fiscal_start_month) for k in range(n, 0, -1)]
    return [p for p in earlier if data_start is not None and p.start >= data_start]


def _diagnostics(
    inputs: PipelineInputs, period: Period, inside: pd.Series, won_in: pd.DataFrame
) -> dict[str, Any]:
    """Where the forecast and the actual come from, to tell a timing miss from a
    probability miss: per group of the deals open at T (stated close inside the period,
    stated before it = overdue, stated after it) our expected bookings, Σ p, Σ p × amount,
    and what those deals actually booked inside the period (count and amount); plus the
    correlation sigma used."""
    deals = inputs.deals
    expected = expected_matrix(
        inputs.open_deals(), [period], inputs.timing, inputs.ratio, inputs.correlation
    )[:, 0]
    stated = pd.to_datetime(deals["CloseDate"]).dt.date
    groups = {
        "stated_inside": inside.to_numpy(),
        "stated_before": (stated < period.start).to_numpy(),
        "stated_after": (stated > period.end).to_numpy(),
    }
    booked = deals["Id"].map(won_in.set_index("Id")["Amount"].fillna(0.0)).fillna(0.0)
    won_mask = deals["Id"].isin(won_in["Id"]).to_numpy()
    amount = deals["Amount"].fillna(0.0).to_numpy(float)
    p = deals["p"].to_numpy(float)
    out: dict[str, Any] = {
        "correlation_sigma": None if inputs.correlation is None else inputs.correlation.sigma,
    }
    for name, mask in groups.items():
        out[name] = {
            "deals": int(mask.sum()),
            "expected": float(expected[mask].sum()),
            "sum_p": float(p[mask].sum()),
            "sum_p_amount": float((p * amount)[mask].sum()),
            "won_in_period": int((won_mask & mask).sum()),
            "booked_in_period": float(booked.to_numpy(float)[mask].sum()),
        }
    return out


def summarize(rows: list[dict[str, Any]], period_kind: str) -> dict[str, Any]:
    """Metrics per method over the backtest rows, ours with coverage, plus per-rep accuracy."""
    actual = np.array([r["actual"] for r in rows], dtype=float)
    methods: dict[str, Any] = {}
    names = ["ours", "ours_p50", "stage_weighted", "commit", "seasonal_naive_yoy"]
    if period_kind == "month":
        names.append("seasonal_naive_prev_quarter")
    ours = np.array([r["forecast"]["ours"] for r in rows], dtype=float)
    for name in names:
        values = [r["forecast"].get(name) for r in rows]
        have = np.array([v is not None for v in values])
        if not have.any():
            methods[name] = {"n": 0, "note": "no earlier period with data for any snapshot"}
            continue
        f = np.array([v for v in values if v is not None], dtype=float)
        entry = accuracy.summarize(f, actual[have]).as_dict()
        if not have.all():  # compare like with like: ours on the same periods
            entry["ours_wape_same_periods"] = accuracy.wape(ours[have], actual[have])
        methods[name] = entry
    with_interval = [r for r in rows if r["interval"]["low"] is not None]
    if with_interval:
        methods["ours"]["coverage"] = accuracy.coverage(
            [r["actual"] for r in with_interval],
            [r["interval"]["low"] for r in with_interval],
            [r["interval"]["high"] for r in with_interval],
        )
    methods["ours"]["interval_levels"] = rows[0]["interval"]["levels"] if rows else None
    methods["ours"]["deterministic_fallbacks"] = sum(r["method"] != "monte_carlo" for r in rows)
    reps = accuracy.per_rep(
        pd.DataFrame(
            [o for r in rows for o in r["by_owner"]], columns=["owner_id", "forecast", "actual"]
        )
    )
    baseline_wapes = {
        n: methods[n]["wape"] for n in names[2:] if methods[n].get("wape") is not None
    }
    ours_wape = methods["ours"]["wape"]
    total_actual = float(actual.sum())
    return {
        "periods": len(rows),
        "methods": methods,
        "beats_every_baseline": None
        if ours_wape is None or not baseline_wapes
        else all(ours_wape < w for w in baseline_wapes.values()),
        "per_rep": reps.to_dict(orient="records"),
        "per_rep_summary": accuracy.per_rep_summary(reps),
        "share_of_actuals_from_deals_created_after_as_of": None
        if total_actual == 0
        else sum(r["actual_from_deals_created_after_as_of"] for r in rows) / total_actual,
        "scorers_used": sorted({r["scorer_used"] for r in rows}),
        "fallback_notes": sorted({r["note"] for r in rows if r["note"]}),
    }


def _record(store: Store, result: BacktestResult, actor: str, final_at: datetime) -> int:
    created = datetime.now(UTC).replace(tzinfo=None)
    methods = result.summary["methods"]
    with store.engine.begin() as conn:
        inserted = conn.execute(
            insert(backtest_run).values(
                created_at=created,
                actor=actor,
                period_kind=result.period_kind,
                from_date=result.start,
                to_date=result.end,
                scorer=result.scorer,
                summary=result.summary,
                rows=result.rows,
            )
        ).inserted_primary_key
        assert inserted is not None
        run_id = int(inserted[0])
        audit.append(
            conn,
            actor=actor,
            action="backtest",
            subject=f"{result.period_kind} {result.start}..{result.end} ({result.scorer})",
            as_of=final_at,
            model_version=",".join(sorted({r["model_version"] for r in result.rows})),
            inputs_hash=audit.hash_inputs(
                {
                    "seed": result.seed,
                    "n_sims": result.n_sims,
                    "periods": [r["period"] for r in result.rows],
                    "scorer": result.scorer,
                }
            ),
            outputs={
                "run_id": int(run_id),
                "wape": {k: v.get("wape") for k, v in methods.items()},
                "coverage": methods["ours"].get("coverage"),
            },
            recorded_at=created,
        )
    return int(run_id)


def list_runs(
    store: Store, *, period_kind: str | None = None, limit: int | None = 50
) -> list[dict[str, Any]]:
    """Stored backtest runs, newest first, with their headline numbers (not their rows)."""
    cols = [c for c in backtest_run.c if c.name != "rows"]
    query = select(*cols).order_by(backtest_run.c.id.desc())
    if period_kind:
        query = query.where(backtest_run.c.period_kind == period_kind)
    if limit:
        query = query.limit(limit)
    with store.engine.connect() as conn:
        found = [dict(r) for r in conn.execute(query).mappings()]
    out = []
    for r in found:
        methods = r["summary"].get("methods", {})
        out.append(
            {
                "id": r["id"],
                "created_at": r["created_at"],
                "actor": r["actor"],
                "period_kind": r["period_kind"],
                "from": r["from_date"],
                "to": r["to_date"],
                "scorer": r["scorer"],
                "periods": r["summary"].get("periods"),
                "wape": {k: v.get("wape") for k, v in methods.items()},
                "coverage": methods.get("ours", {}).get("coverage"),
                "bias": methods.get("ours", {}).get("bias"),
                "summary": r["summary"],
            }
        )
    return out


def get_run(store: Store, run_id: int) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(select(backtest_run).where(backtest_run.c.id == run_id)).mappings()
        found = row.first()
    if found is None:
        raise ValueError(f"no backtest run {run_id}; list them with `dealcast backtest --list`")
    return dict(found)


__all__ = [
    "BASELINES",
    "BacktestResult",
    "backtest",
    "get_run",
    "list_runs",
    "snapshot_periods",
    "summarize",
]
