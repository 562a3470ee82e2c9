"""Forecast quality on the demo org: walk-forward backtests, ours vs naive baselines.

Monthly snapshots 2025-07 .. 2026-10 (16) and quarterly 2024-Q4 .. 2026-Q3 (8), each as of
the instant before its period began (see `dealcast.sim.backtest`), scorer `model` (retrained
at each quarter start on deals closed before it; the monthly and quarterly runs share the
trained models). Targets: coverage of the P10-P90 interval 75-85 %, WAPE below every
baseline (stage-weighted pipeline, Commit sum, seasonal naives).

Also writes per-snapshot diagnostics (`diagnostics` in the JSON): how the forecast splits
into deals stated to close inside the period vs. outside, Σp vs. deals actually won among the
deals open at T, and how much of the actual came from deals open at T.

    .venv/bin/python bench/forecast_quality.py [--scale 1] [--sims 10000] [--scorer model]
        [--org-seed 7]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))


from common import OUT, SEED, org_store
from dealcast.sim.backtest import backtest
from dealcast.sim.walkforward import WalkForward
from scoring import END

CLOSED = ("Closed Won", "Closed Lost")


RUNS = {
    "month": (date(2025, 7, 1), date(2026, 10, 1)),
    "quarter": (date(2024, 10, 1), date(2026, 7, 1)),
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
    out["created_after_as_of"] = {  # the engine's not-yet-created pipeline component
        "expected": sum(r["new_pipeline"] or 0.0 for r in rows),
        "booked_in_period": sum(r["actual_from_deals_created_after_as_of"] for r in rows),
    }
    out["correlation_sigma"] = [r["diagnostics"]["correlation_sigma"] for r in rows]
    out["interval_factor"] = [(r["interval_calibration"] or {}).get("factor") for r in rows]
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
    parser.add_argument("--seed", type=int, default=7, help="simulation seed")
    parser.add_argument("--org-seed", type=int, default=SEED, help="demo org seed (default 7)")
    parser.add_argument("--scorer", default="model", choices=["model", "rules", "stage"])
    parser.add_argument("--kinds", nargs="+", default=["month", "quarter"])
    args = parser.parse_args()
    store = org_store(args.scale, args.org_seed)
    walk = WalkForward(store, args.scorer)
    out: dict[str, Any] = {"scale": args.scale, "org_seed": args.org_seed, "scorer": args.scorer}
    out["sims"] = args.sims
    for kind in args.kinds:
        start, end = RUNS[kind]
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
            progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True),
        )
        payload = result.as_dict()
        payload["seconds"] = round(time.perf_counter() - began, 1)
        for r in payload["rows"]:
            r.pop("by_owner")  # per-rep detail stays in the stored run
        out[kind] = payload
        report(kind, payload)
        payload["diagnosis"] = diagnose(payload)
    OUT.mkdir(exist_ok=True)
    org = "" if args.org_seed == SEED else f"-seed{args.org_seed}"
    path = OUT / f"forecast-quality-{args.scorer}{org}.json"
    path.write_text(json.dumps(out, indent=2, default=str))
    print(f"\nwritten {path}")


if __name__ == "__main__":
    main()
