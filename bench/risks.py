"""Risk-detector quality on the demo org against its latent labels (`_truth/deals.csv`).

At each as-of date T the detectors run on a point-in-time RiskContext of the open deals;
every open deal at T (not deleted) is judged. "Flagged" means the deal got the code at any
severity; a deal that got `insufficient_data` instead counts as not flagged.

Truth at T per code (the README's rule: a driver is true at T when its start <= T and,
for ghosting and stalls, T is before its end when there is one):
- ghost_contacts:     ghost_start <= T < ghost_end (or no end)
- stalled:            stall_start <= T < stall_end (or no end)
- pricing_pressure:   pricing_first_at <= T
- competitor_threat:  competitor_first_at <= T
- single_threaded:    single_threaded (a whole-life label: "only one contact ever engages")
- budget_unconfirmed: late-stage deals at T (stage probability >= 70) only; true when
                      budget_confirmed_at is empty or after T
- no_decision_maker:  late-stage deals at T only; true when dm_engaged_at is empty or > T
- close_date_slipped: only at the last date (the export's `slips` is as of its today):
                      slips > 0. The detector also flags overdue deals, which no label has.
- negative_sentiment: no label; only the won-share tracker below.
"Observable" recall (extra column) for the two drivers that need time to show: ghosting
that started at least 14 days before T, stalls that started at least 30 days before T.

single_threaded reference: the label is the simulator's plan flag. Since the generator
gives every multi-threaded deal a first colleague within 1-10 days of creation (and plans
deals with nobody else at the account single-threaded), the flag is what the data shows;
the bench still counts the judged deals whose whole exported life lists one contact role
("one contact"): the label's share of them is the best precision any detector reading the
data can reach, and P/R against "one contact" are shown too.

False-positive tracker: among deals flagged with a code, the share that went on to win
(`eventual_outcome`, the simulator's future for deals still open today), next to the win
rate of all judged deals; above 20 % the code is "flagged for review".

    .venv/bin/python bench/risks.py [--scale 1] [--seed 7] [--db PATH]

`--seed` picks the demo org (7, the default, is the one every other bench uses; another
seed checks that the detectors were not tuned to one org). `--db` runs on another copy of
the store (default bench/out/demo-scale1.db for seed 7, demo-seed{N}-scale1.db otherwise;
the run caches text signals in it). Writes bench/out/risks.json (risks-seed{N}.json for
another seed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, SEED, TODAY, demo_export, org_store
from dealcast.crm.store import Store
from dealcast.risk.context import RiskContext
from dealcast.risk.detectors import detect
from dealcast.risk.models import RISK_CODES

DATES = ("2025-09-30", "2026-03-31", str(TODAY))
END_OF_DAY = pd.Timedelta(hours=23, minutes=59, seconds=59)
TARGET = 0.85
TARGETED = ("stalled", "ghost_contacts", "pricing_pressure", "single_threaded", "competitor_threat")
REVIEW_WON_SHARE = 0.20
LAG_DAYS = {"ghost_contacts": ("ghost_start", 14), "stalled": ("stall_start", 30)}
TIMES = [
    *("ghost_start", "ghost_end", "stall_start", "stall_end"),
    *("pricing_first_at", "competitor_first_at", "budget_confirmed_at", "dm_engaged_at"),
]


def load_truth(scale: float, seed: int) -> pd.DataFrame:
    export = demo_export(scale, seed)
    truth = pd.read_csv(export / "_truth" / "deals.csv")
    for col in TIMES:
        truth[col] = pd.to_datetime(truth[col], utc=True).dt.tz_localize(None)
    roles = pd.read_csv(
        export / "OpportunityContactRole.csv", usecols=["OpportunityId", "ContactId"]
    )
    listed = roles.groupby("OpportunityId")["ContactId"].nunique()
    truth["one_contact"] = truth["OpportunityId"].map(listed).fillna(0).le(1)
    return truth[~truth["is_deleted"].astype(bool)].set_index("OpportunityId")


def labels(truth: pd.DataFrame, ctx: RiskContext, last: bool) -> dict[str, pd.Series]:
    t = ctx.now
    deals = ctx.deals.set_index("OpportunityId")
    rows = truth.reindex(deals.index)

    def during(start: str, end: str) -> pd.Series:
        return (rows[start] <= t) & (rows[end].isna() | (t < rows[end]))

    late = deals["IsLate"] & deals["StateKnown"]
    out = {
        "ghost_contacts": during("ghost_start", "ghost_end"),
        "stalled": during("stall_start", "stall_end"),
        "pricing_pressure": rows["pricing_first_at"] <= t,
        "competitor_threat": rows["competitor_first_at"] <= t,
        "single_threaded": rows["single_threaded"].astype(bool),
        "budget_unconfirmed": ~(rows["budget_confirmed_at"] <= t)[late],
        "no_decision_maker": ~(rows["dm_engaged_at"] <= t)[late],
    }
    if last:
        out["close_date_slipped"] = rows["slips"] > 0
    return out


def score(flagged: pd.Series, truth: pd.Series) -> dict[str, Any]:
    flagged = flagged.reindex(truth.index).fillna(False).astype(bool)
    tp = int((flagged & truth).sum())
    return {
        "flagged": int(flagged.sum()),
        "true": int(truth.sum()),
        "tp": tp,
        "precision": tp / flagged.sum() if flagged.sum() else None,
        "recall": tp / truth.sum() if truth.sum() else None,
    }


def run_date(store: Store, truth: pd.DataFrame, day: str, last: bool) -> dict[str, Any]:
    t = (pd.Timestamp(day) + END_OF_DAY).to_pydatetime()
    start = time.perf_counter()
    ctx = RiskContext.load(store, t)
    loaded = time.perf_counter() - start
    risks = detect(ctx)
    seconds = time.perf_counter() - start
    ids = pd.Index(ctx.deals["OpportunityId"])
    codes = {
        c: pd.Series([any(r.code == c for r in risks[i]) for i in ids], index=ids)
        for c in RISK_CODES
    }
    won = truth.reindex(ids)["eventual_outcome"].eq("won")
    result: dict[str, Any] = {
        "as_of": day,
        "open_deals": len(ids),
        "load_s": round(loaded, 2),
        "total_s": round(seconds, 2),
        "win_rate": round(float(won.mean()), 4),
        "competitors": list(ctx.competitors),
        "codes": {},
    }
    truths = labels(truth, ctx, last)
    for code in RISK_CODES:
        row: dict[str, Any] = {"flagged": int(codes[code].sum())}
        if code in truths:
            row.update(score(codes[code], truths[code]))
        if code in LAG_DAYS:
            column, lag = LAG_DAYS[code]
            rows = truth.reindex(ids)
            seen = truths[code] & (rows[column] <= ctx.now - pd.Timedelta(days=lag))
            row["observable_recall"] = score(codes[code], seen)["recall"]
        row["won_share"] = float(won[codes[code]].mean()) if codes[code].any() else None
        result["codes"][code] = row
    one = truth.reindex(ids)["one_contact"].astype(bool)
    result["single_reference"] = {
        **score(codes["single_threaded"], one),
        "labelled": int((one & truths["single_threaded"]).sum()),
    }
    return result


def pooled(per_date: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for code in RISK_CODES:
        rows = [d["codes"][code] for d in per_date]
        flagged = sum(r["flagged"] for r in rows)
        judged = [r for r in rows if "tp" in r]
        tp = sum(r["tp"] for r in judged)
        n_flag = sum(r["flagged"] for r in judged)
        n_true = sum(r["true"] for r in judged)
        won = [r["won_share"] * r["flagged"] for r in rows if r["won_share"] is not None]
        share = sum(won) / flagged if flagged else None
        out[code] = {
            "precision": tp / n_flag if judged and n_flag else None,
            "recall": tp / n_true if judged and n_true else None,
            "flagged": flagged,
            "won_share": share,
            "review": share is not None and share > REVIEW_WON_SHARE,
        }
    return out


def fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.2f}"


def table(per_date: list[dict[str, Any]], pool: dict[str, dict[str, Any]]) -> str:
    dates = [d["as_of"] for d in per_date]
    head = f"{'code':<20}" + "".join(f"{d:>17}" for d in dates)
    head += f"{'pooled P':>10}{'pooled R':>10}{'target':>8}{'won %':>7}  review"
    lines = [head, f"{'':<20}" + f"{'P / R (obs. R)':>17}" * len(dates)]
    for code in RISK_CODES:
        cells = ""
        for d in per_date:
            r = d["codes"][code]
            cell = f"{fmt(r.get('precision'))}/{fmt(r.get('recall'))}"
            if "observable_recall" in r:
                cell += f" ({fmt(r['observable_recall'])})"
            elif "tp" not in r:
                cell = f"n={r['flagged']}"
            cells += f"{cell:>17}"
        p = pool[code]
        target = f">={TARGET:.2f}" if code in TARGETED else ""
        won = "" if p["won_share"] is None else f"{p['won_share'] * 100:.0f}"
        review = "flagged for review" if p["review"] else ""
        lines.append(
            f"{code:<20}{cells}{fmt(p['precision']):>10}{fmt(p['recall']):>10}"
            f"{target:>8}{won:>7}  {review}"
        )
    refs = [d["single_reference"] for d in per_date]
    one, labelled = sum(r["true"] for r in refs), sum(r["labelled"] for r in refs)
    tp, flagged = sum(r["tp"] for r in refs), sum(r["flagged"] for r in refs)
    lines.append(
        f"single_threaded reference: {one} judged deals list one contact through their "
        f"exported life, {labelled} of them labelled (precision ceiling "
        f"{fmt(labelled / one if one else None)}); against 'one contact' P "
        f"{fmt(tp / flagged if flagged else None)} R {fmt(tp / one if one else None)}"
    )
    rates = ", ".join(f"{d['as_of']} {d['win_rate'] * 100:.0f} %" for d in per_date)
    times = ", ".join(f"{d['as_of']} {d['total_s']:.1f} s" for d in per_date)
    lines += [f"win rate of all open deals: {rates}", f"load + detect: {times}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=SEED, help="demo org seed (default 7)")
    parser.add_argument("--db", type=Path, default=None, help="store to use (default shared)")
    args = parser.parse_args()
    store = org_store(args.scale, args.seed, args.db)
    truth = load_truth(args.scale, args.seed)
    per_date = []
    for i, day in enumerate(DATES):
        per_date.append(run_date(store, truth, day, last=i == len(DATES) - 1))
        print(
            f"{day}: {per_date[-1]['open_deals']} open deals, {per_date[-1]['total_s']} s",
            flush=True,
        )
    pool = pooled(per_date)
    print(table(per_date, pool))
    OUT.mkdir(exist_ok=True)
    payload = {
        "run_at": datetime.now().isoformat(timespec="seconds"),
        "scale": args.scale,
        "seed": args.seed,
        "per_date": per_date,
        "pooled": pool,
    }
    out = OUT / ("risks.json" if args.seed == SEED else f"risks-seed{args.seed}.json")
    out.write_text(json.dumps(payload, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
