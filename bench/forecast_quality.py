"""Forecast quality on the demo org: walk-forward backtests, ours vs naive baselines.

Monthly snapshots 2025-07 .. 2026-10 (16) and quarterly 2025-Q1 .. 2026-Q3 (7), each as of
the instant before its period began (see `dealcast.sim.backtest`), scorer `model` (retrained
at each quarter start on deals closed before it; the monthly and quarterly runs share the
trained models). Targets: coverage of the P10-P90 interval 75-85 %, WAPE below every
baseline (stage-weighted pipeline, Commit sum, seasonal naives).

Also writes per-snapshot diagnostics (`diagnostics` in the JSON): how the forecast splits
into deals stated to close inside the period vs. outside, Σp vs. deals actually won among the
deals open at T, and how much of the actual came from deals open at T.

    .venv/bin/python bench/forecast_quality.py [--scale 1] [--sims 10000] [--scorer model]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
import pandas as pd

from common import OUT
from dealcast.ml.feature_inputs import history_with_slips
from dealcast.sim import accuracy
from dealcast.sim import backtest as bt
from dealcast.sim.backtest import backtest
from dealcast.sim.inputs import fit_timing, load_inputs
from dealcast.sim.montecarlo import Correlation
from dealcast.sim.periods import periods_from, to_days
from dealcast.sim.timing import TABLE_SIZE
from dealcast.sim.walkforward import WalkForward, instant_before
from scoring import END, demo_store

CLOSED = ("Closed Won", "Closed Lost")


def miq_inputs(sigma: float | None = None) -> Any:
    """EXPERIMENT (engine change proposal), not the engine: `load_inputs` whose timing model
    buckets by stage x month-in-quarter of the stated close date (x slips), so a deal stated
    to close mid-quarter can learn that it usually lands at the quarter end. Optionally a
    fixed correlation sigma. Same point-in-time inputs otherwise."""

    def load(store: Any, t: Any, probabilities: Any, model_version: Any, *, actor: str) -> Any:
        base = load_inputs(store, t, probabilities, model_version, actor=actor)
        snap = store.as_of(t)
        state = snap.opportunities()
        hist = history_with_slips(snap.history(), state)
        hist = hist[~hist["StageName"].isin(CLOSED)].dropna(subset=["CloseDate"]).copy()
        hist["StageName"] = _label(hist["StageName"], hist["CloseDate"])
        timing, ratio = fit_timing(state, hist, snap.as_of)
        inputs = replace(base, timing=timing, ratio=ratio)
        if sigma is not None:
            inputs = replace(inputs, correlation=Correlation(sigma))
        deals = base.deals.copy()
        deals["StageName"] = _label(deals["StageName"], deals["CloseDate"])
        return inputs.with_deals(deals)

    return load


def _label(stage: pd.Series, close: pd.Series) -> pd.Series:
    month = pd.to_datetime(close).dt.month
    return stage.astype(str) + "@m" + ((month - 1) % 3 + 1).astype(str)


def conditional_expected(inputs: Any, period: Any) -> dict[str, float]:
    """EXPERIMENT: expected bookings when a deal's close date is drawn from its timing
    distribution CONDITIONED on closing at or after T (the tail beyond what already
    passed), instead of the engine's rule of moving past draws onto the period start.
    Deals whose every historical example closed before T get no mass (counted)."""
    deals = inputs.open_deals()
    table = inputs.timing.quantile_table(TABLE_SIZE)
    buckets = deals.bucket if deals.bucket is not None else np.zeros(len(deals), np.int64)
    start, end = to_days([period.start])[0], to_days([period.end])[0]
    mean_ratio = float(np.mean(inputs.ratio.quantile_table(TABLE_SIZE)))
    total, dead = 0.0, 0
    for k in np.unique(buckets):
        rows = np.flatnonzero(buckets == k)
        low = start - deals.close[rows]  # offsets that land on/after the period start
        alive = TABLE_SIZE - np.searchsorted(table[k], low, side="left")
        inside = np.searchsorted(table[k], end - deals.close[rows], side="right") - (
            TABLE_SIZE - alive
        )
        share = np.where(alive > 0, inside / np.maximum(alive, 1), 0.0)
        dead += int((alive == 0).sum())
        total += float((deals.p[rows] * deals.amount[rows] * share).sum()) * mean_ratio
    return {"expected": total, "deals_past_every_example": dead}


def conditional_pass(
    store: Any, walk: WalkForward, kind: str, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    """Point forecasts of the conditional-timing experiment for every snapshot of a run
    (scores come from the walk-forward cache), with the engine's and the miq timing."""
    out: dict[str, Any] = {}
    for name, loader in (("conditional", load_inputs), ("miq_conditional", miq_inputs())):
        forecasts, dead = [], 0
        for r in rows:
            (period,) = periods_from(date.fromisoformat(r["start"]), kind, 1)
            pit = walk.scores(instant_before(period.start))
            inputs = loader(store, pit.as_of, pit.probabilities, pit.model_version, actor="bench")
            got = conditional_expected(inputs, period)
            forecasts.append(r["closed_won_at_as_of"] + got["expected"])
            dead += got["deals_past_every_example"]
        actual = [r["actual"] for r in rows]
        out[name] = accuracy.summarize(forecasts, actual).as_dict() | {
            "forecasts": forecasts,
            "deals_past_every_example": dead,
        }
        print(
            f"  experiment {name:16} WAPE {out[name]['wape']:.1%}  bias {out[name]['bias']:+.1%}"
            f"  (no interval: expectation only)"
        )
    return out


VARIANTS: dict[str, Any] = {
    "engine": None,
    "miq_timing": miq_inputs(),
    "miq_timing_sigma0.3": miq_inputs(0.3),
}

RUNS = {
    "month": (date(2025, 7, 1), date(2026, 10, 1)),
    "quarter": (date(2025, 1, 1), date(2026, 7, 1)),
}


def _fmt(value: float | None, pct: bool = True) -> str:
    if value is None:
        return "-"
    return f"{value:.1%}" if pct else f"{value:,.0f}"


def report(kind: str, result: dict[str, Any]) -> None:
    methods = result["summary"]["methods"]
    print(f"\n{kind}: {result['summary']['periods']} snapshots (run {result['run_id']})")
    print(f"  {'method':30} {'WAPE':>8} {'MAPE':>8} {'bias':>8} {'coverage':>9}")
    for name, m in methods.items():
        print(
            f"  {name:30} {_fmt(m.get('wape')):>8} {_fmt(m.get('mape')):>8} "
            f"{_fmt(m.get('bias')):>8} {_fmt(m.get('coverage')):>9}"
        )
    print(f"  beats every baseline: {result['summary']['beats_every_baseline']}")
    print(f"  per rep: {result['summary']['per_rep_summary']}")
    for r in result["rows"]:
        f = r["forecast"]
        print(
            f"  {r['period']}: actual {_fmt(r['actual'], False):>10}  ours "
            f"{_fmt(f['ours'], False):>10} [{_fmt(r['interval']['low'], False)}, "
            f"{_fmt(r['interval']['high'], False)}] {'in ' if r['inside'] else 'OUT'}  stage "
            f"{_fmt(f['stage_weighted'], False)}  commit {_fmt(f['commit'], False)}  yoy "
            f"{_fmt(f['seasonal_naive_yoy'], False)}"
            + (
                f"  prevQ {_fmt(f['seasonal_naive_prev_quarter'], False)}"
                if "seasonal_naive_prev_quarter" in f
                else ""
            )
        )


GROUPS = ("stated_inside", "stated_before", "stated_after")


def diagnose(result: dict[str, Any]) -> dict[str, Any]:
    """Totals over the snapshots, per group of deals open at T (by stated close vs the
    period): our expected vs what they booked inside the period; plus new deals."""
    rows = result["rows"]
    out: dict[str, Any] = {}
    for g in GROUPS:
        d = [r["diagnostics"][g] for r in rows]
        out[g] = {
            k: sum(x[k] for x in d)
            for k in ("deals", "expected", "sum_p", "sum_p_amount", "won_in_period")
        } | {"booked_in_period": sum(x["booked_in_period"] for x in d)}
    out["created_after_as_of"] = {
        "expected": 0.0,
        "booked_in_period": sum(r["actual_from_deals_created_after_as_of"] for r in rows),
    }
    out["correlation_sigma"] = [r["diagnostics"]["correlation_sigma"] for r in rows]
    width = [
        (r["interval"]["high"] - r["interval"]["low"]) / r["forecast"]["ours"]
        for r in rows
        if r["interval"]["low"] is not None and r["forecast"]["ours"]
    ]
    errors = [abs(r["forecast"]["ours"] - r["actual"]) / r["forecast"]["ours"] for r in rows]
    out["median_interval_width_over_expected"] = float(sorted(width)[len(width) // 2])
    out["median_abs_error_over_expected"] = float(sorted(errors)[len(errors) // 2])
    print("  where forecast and actual come from (totals over the snapshots):")
    for g, v in out.items():
        if isinstance(v, dict):
            print(
                f"    {g:20} expected {v['expected']:>13,.0f}  booked "
                f"{v['booked_in_period']:>13,.0f}"
                + (
                    f"  deals {v['deals']:>5}  won {v['won_in_period']:>4}  Σp {v['sum_p']:7.1f}"
                    if "deals" in v
                    else ""
                )
            )
    print(
        f"    interval width / expected (median) {out['median_interval_width_over_expected']:.2f}"
        f" vs |error| / expected (median) {out['median_abs_error_over_expected']:.2f};"
        f" correlation sigma {out['correlation_sigma']}"
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scorer", default="model", choices=["model", "rules", "stage"])
    parser.add_argument("--kinds", nargs="+", default=["month", "quarter"])
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    args = parser.parse_args()
    store = demo_store(args.scale)
    walk = WalkForward(store, args.scorer)
    out: dict[str, Any] = {"scale": args.scale, "scorer": args.scorer, "sims": args.sims}
    for kind in args.kinds:
        start, end = RUNS[kind]
        out[kind] = {}
        for variant in args.variants:
            bt.load_inputs = VARIANTS[variant] or load_inputs  # type: ignore[attr-defined]
            began = time.perf_counter()
            result = backtest(
                store,
                start,
                end,
                kind,
                scorer=args.scorer,
                seed=args.seed,
                n_sims=args.sims,
                actor="bench",
                actuals_as_of=END,
                walk=walk,
                record=variant == "engine",  # experiments are not the product: not stored
                progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True),
            )
            payload = result.as_dict()
            payload["seconds"] = round(time.perf_counter() - began, 1)
            for r in payload["rows"]:
                r.pop("by_owner")  # per-rep detail stays in the stored run
            out[kind][variant] = payload
            report(f"{kind} [{variant}]", payload)
            payload["diagnosis"] = diagnose(payload)
        out[kind]["experiments"] = conditional_pass(store, walk, kind, out[kind]["engine"]["rows"])
    bt.load_inputs = load_inputs  # type: ignore[attr-defined]
    OUT.mkdir(exist_ok=True)
    path = OUT / f"forecast-quality-{args.scorer}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
