"""Maven CRM (synthetic, real file): monthly won-revenue backtest Jul-Dec 2017 from the
pipeline open at each month start, with the sim library, against the naive baselines of
`../shared/data/maven_crm_sales_opportunities/SOURCE.md`.

The file is one snapshot at the end of 2017 with no stage history and no stated close date
for open deals, so the point-in-time rules used here are:
- at D (a month start, 00:00) a deal is open when engage_date < D and it had not closed
  before D (close_date >= D, or still open at the end of the file); Prospecting rows have no
  engage date and are left out everywhere; what is known at D = the deals closed before D;
- history for the conversion model: reference snapshots S = D - 3, 6, ... months (the same
  position in the quarter as D: the file has a strong quarter-end pattern) whose whole
  3-month window [S, S + 3 months) is before D, and S >= 2017-03-01 (the first close in the
  file: before it nothing closed, so earlier windows say nothing);
- per age bucket (days since engage at the snapshot), from the reference snapshots:
  p = P(won inside the window | open at S in the bucket), the win-probability of the
  simulation; the timing model (`TimingModel`, the age bucket standing in for the stage) is
  fitted on those winners with stated close = S and actual close = close_date, i.e. it learns
  how many days after the snapshot the wins land; an open deal at D gets stated close = D.
  (The brief's simpler variant — stated close = engage + median cycle known at D — is also
  run, `engage_plus_median`: it cannot tell a live deal from a zombie that will never close.)
- amount: the mean won close_value of the deal's product among deals won before D;
- new pipeline (`with_new`): deals engaged after the snapshot and won inside the month, per
  reference month, averaged (a separate, deterministic component, as the engine spec says).
Actual: won close_value with close_date in the month. Seasonal naive etc. as in SOURCE.md.

    .venv/bin/python bench/maven_forecast.py [--data-dir ../shared/data] [--sims 10000]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT
from dealcast.sim import accuracy
from dealcast.sim.montecarlo import OpenDeals, simulate
from dealcast.sim.periods import periods_from
from dealcast.sim.timing import TimingModel

MONTHS = pd.date_range("2017-07-01", "2017-12-01", freq="MS")
FIRST_CLOSE = pd.Timestamp("2017-03-01")
WINDOW = pd.DateOffset(months=3)
AGE_EDGES = [0, 15, 30, 45, 60, 90, 120, 180, 100_000]  # days since engage at the snapshot
MIN_TIMING = 30


def load(data_dir: Path) -> pd.DataFrame:
    folder = data_dir / "maven_crm_sales_opportunities"
    deals = pd.read_csv(folder / "sales_pipeline.csv", parse_dates=["engage_date", "close_date"])
    deals["product"] = deals["product"].replace({"GTXPro": "GTX Pro"})
    return deals[deals["engage_date"].notna()].reset_index(drop=True)


def _age_bucket(age_days: pd.Series) -> np.ndarray:
    return np.asarray(pd.cut(age_days, AGE_EDGES, right=False, labels=False), dtype=np.int64)


def open_at(deals: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    still = deals["close_date"].isna() | (deals["close_date"] >= t)
    return deals[(deals["engage_date"] < t) & still]


def reference_snapshots(d: pd.Timestamp) -> list[pd.Timestamp]:
    out, k = [], 1
    while (s := d - pd.DateOffset(months=3 * k)) >= FIRST_CLOSE:
        out.append(s)
        k += 1
    return out


def conversion(deals: pd.DataFrame, d: pd.Timestamp) -> dict[str, Any]:
    """Per age bucket p and the timing model, from reference windows wholly before D."""
    known = deals[deals["close_date"] < d]  # outcomes known at D (open ones: still open)
    rows, new_won = [], []
    for s in reference_snapshots(d):
        end = s + WINDOW
        at_s = open_at(deals[deals["engage_date"] < s], s)  # engaged before S: known at D
        won_in = (
            at_s["opportunity_id"].isin(known["opportunity_id"])
            & (at_s["deal_stage"] == "Won")
            & (at_s["close_date"] < end)
        )
        rows.append(
            pd.DataFrame(
                {
                    "bucket": _age_bucket((s - at_s["engage_date"]).dt.days),
                    "won": won_in.to_numpy(),
                    "snapshot": s,
                    "close": at_s["close_date"].where(won_in),
                }
            )
        )
        month_end = s + pd.DateOffset(months=1)
        fresh = known[
            (known["engage_date"] >= s)
            & (known["deal_stage"] == "Won")
            & (known["close_date"] < month_end)
        ]
        new_won.append(float(fresh["close_value"].sum()))
    ref = pd.concat(rows, ignore_index=True)
    n_buckets = len(AGE_EDGES) - 1
    counts = np.bincount(ref["bucket"], minlength=n_buckets)
    wins = np.bincount(ref["bucket"], weights=ref["won"].astype(float), minlength=n_buckets)
    p = np.where(counts > 0, wins / np.maximum(counts, 1), 0.0)
    winners = ref[ref["won"]]
    timing = TimingModel.fit(
        winners["bucket"].astype(str).to_numpy(),
        np.zeros(len(winners), dtype=np.int64),
        winners["snapshot"].to_numpy(),
        winners["close"].to_numpy(),
        min_count=MIN_TIMING,
    )
    return {
        "p": p,
        "counts": counts,
        "timing": timing,
        "new_pipeline": float(np.mean(new_won)) if new_won else 0.0,
        "references": [str(s.date()) for s in reference_snapshots(d)],
    }


def product_values(deals: pd.DataFrame, d: pd.Timestamp) -> pd.Series:
    won = deals[(deals["close_date"] < d) & (deals["deal_stage"] == "Won")]
    return won.groupby("product")["close_value"].mean()


def forecast_month(deals: pd.DataFrame, d: pd.Timestamp, sims: int, seed: int) -> dict[str, Any]:
    (period,) = periods_from(d.date(), "month", 1)
    pipe = open_at(deals, d)
    values = product_values(deals, d)
    amount = pipe["product"].map(values).fillna(values.mean()).to_numpy(float)
    conv = conversion(deals, d)
    bucket = _age_bucket((d - pipe["engage_date"]).dt.days)
    timing: TimingModel = conv["timing"]
    open_deals = OpenDeals.build(
        p=conv["p"][bucket],
        amount=amount,
        close=np.full(len(pipe), np.datetime64(d.date(), "D")),
        bucket=timing.buckets(bucket.astype(str), np.zeros(len(pipe), dtype=np.int64)),
    )
    sim = simulate(open_deals, [period], timing, sims, seed)
    ours = {
        "expected": float(sim.expected[0]),
        "p10": float(sim.quantile(0.1)[0]),
        "p50": float(sim.quantile(0.5)[0]),
        "p90": float(sim.quantile(0.9)[0]),
    }
    # the simpler variant: stated close = engage + median cycle known at D, one PIT win rate
    known = deals[deals["close_date"] < d]
    cycle = (known["close_date"] - known["engage_date"]).dt.days
    median = float(cycle.median())
    win_rate = float((known["deal_stage"] == "Won").mean())
    won_known = known[known["deal_stage"] == "Won"]
    simple_timing = TimingModel.fit(
        np.full(len(won_known), "all"),
        np.zeros(len(won_known), dtype=np.int64),
        (won_known["engage_date"] + pd.to_timedelta(median, unit="D")).to_numpy(),
        won_known["close_date"].to_numpy(),
    )
    simple = simulate(
        OpenDeals.build(
            p=np.full(len(pipe), win_rate),
            amount=amount,
            close=(pipe["engage_date"] + pd.to_timedelta(median, unit="D")).to_numpy(),
        ),
        [period],
        simple_timing,
        sims,
        seed,
    )
    return {
        "open_deals": len(pipe),
        "ours": ours,
        "new_pipeline": conv["new_pipeline"],
        "engage_plus_median": float(simple.expected[0]),
        "median_cycle_days": median,
        "win_rate": win_rate,
        "references": conv["references"],
        "p_by_age_bucket": dict(
            zip(
                [f"{a}-{b}" for a, b in itertools.pairwise(AGE_EDGES)],
                np.round(conv["p"], 3).tolist(),
                strict=True,
            )
        ),
    }


def naive(monthly: pd.Series, d: pd.Timestamp) -> dict[str, float]:
    """SOURCE.md's naive forecasts for month d from won revenue of earlier months."""
    before = monthly[monthly.index < d]
    return {
        "last_month": float(before.iloc[-1]),
        "mean_to_date": float(before.mean()),
        "seasonal_naive_prev_quarter": float(monthly.get(d - pd.DateOffset(months=3), np.nan)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sims", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    deals = load(args.data_dir)
    won = deals[deals["deal_stage"] == "Won"]
    monthly = won.groupby(won["close_date"].dt.to_period("M").dt.to_timestamp())[
        "close_value"
    ].sum()
    rows = []
    for d in MONTHS:
        f = forecast_month(deals, d, args.sims, args.seed)
        actual = float(monthly.get(d, 0.0))
        f |= {"month": str(d.date())[:7], "actual": actual, "naive": naive(monthly, d)}
        rows.append(f)
        print(
            f"{f['month']}: actual {actual:>11,.0f}  ours {f['ours']['expected']:>11,.0f} "
            f"[{f['ours']['p10']:,.0f}, {f['ours']['p90']:,.0f}] +new "
            f"{f['new_pipeline']:,.0f}  engage+median {f['engage_plus_median']:,.0f}  "
            f"prevQ {f['naive']['seasonal_naive_prev_quarter']:,.0f}  "
            f"({f['open_deals']} open)",
            flush=True,
        )
    actual = [r["actual"] for r in rows]
    methods = {
        "ours": [r["ours"]["expected"] for r in rows],
        "ours_with_new_pipeline": [r["ours"]["expected"] + r["new_pipeline"] for r in rows],
        "ours_p50": [r["ours"]["p50"] for r in rows],
        "engage_plus_median": [r["engage_plus_median"] for r in rows],
        **{k: [r["naive"][k] for r in rows] for k in rows[0]["naive"]},
    }
    summary = {}
    for name, f in methods.items():
        interval = name == "ours"
        s = accuracy.summarize(
            f,
            actual,
            low=[r["ours"]["p10"] for r in rows] if interval else None,
            high=[r["ours"]["p90"] for r in rows] if interval else None,
        )
        summary[name] = s.as_dict()
    print(f"\n{'method':28} {'WAPE':>7} {'MAPE':>7} {'bias':>7} {'coverage':>9}")
    for name, s in summary.items():
        cov = "-" if s["coverage"] is None else f"{s['coverage']:.0%}"
        print(f"{name:28} {s['wape']:7.3f} {s['mape']:7.3f} {s['bias']:+7.3f} {cov:>9}")
    OUT.mkdir(exist_ok=True)
    path = OUT / "maven-forecast.json"
    path.write_text(json.dumps({"summary": summary, "rows": rows}, indent=2, default=str))
    print(f"written {path}")


if __name__ == "__main__":
    main()
