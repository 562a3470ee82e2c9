"""Deal-scoring benchmarks on the demo org: walk-forward quality, and speed.

quality: at each snapshot date T, train on deals closed before T (our time split), score the
  deals open at T, and judge them on how they ended (deals still open today are left out).
  Baselines on the same deals: Salesforce stage probability, rule-based scorer.
  Targets: AUC >= stage baseline + 0.10, ECE <= 0.03.
  Leaving out the deals still open today favours fast closers, so the script also judges
  EVERY deal open at T, the still-open ones by the simulator's eventual outcome
  (`_truth/deals.csv`), and prints Σp against the wins: the level a forecast sums.
speed: scale-10 org; features + calibrated score + exact TreeSHAP top factors for every
  open deal, as a ratio to bare `predict` + `pred_contribs` on the same matrix; exact SHAP
  for 100k deals (target < 15 s); an incremental rescore of 500 changed deals (< 0.5 s),
  as `_score_fresh` (features to actions) and as the whole `score` call (+ persist, audit).

    .venv/bin/python bench/scoring.py quality [--scale 1]
    .venv/bin/python bench/scoring.py speed [--scale 10]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, TODAY, best_of, demo_export
from dealcast.cli_ml import train_model
from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from dealcast.ml import explain, metrics
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.feature_store import FeatureStore
from dealcast.ml.features import FEATURE_NAMES, compute
from dealcast.ml.registry import Registry
from dealcast.ml.rules import rule_probability
from dealcast.ml.scoring import _score_fresh, score
from dealcast.ml.training import train

END = datetime(TODAY.year, TODAY.month, TODAY.day, 23, 59, 59)


def demo_store(scale: float) -> Store:
    db = OUT / f"demo-scale{scale:g}.db"  # shared with bench/ingest.py
    fresh = not db.exists()
    store = Store.open(f"sqlite:///{db}")
    if fresh:
        print(f"importing scale {scale:g} ...", flush=True)
        import_export(store, demo_export(scale), actor="bench", as_of=END)
    return store


def quality(scale: float) -> dict[str, Any]:
    store = demo_store(scale)
    final = store.as_of(END).opportunities().set_index("Id")
    truth = pd.read_csv(demo_export(scale) / "_truth" / "deals.csv").set_index("OpportunityId")
    eventual = truth["eventual_outcome"].astype(str).str.lower() == "won"
    everyone: dict[str, list[np.ndarray]] = {"y": [], "model": []}
    snapshots = pd.date_range("2025-03-31", "2026-06-30", freq="QE") + pd.Timedelta(
        hours=23, minutes=59
    )
    pooled: dict[str, list[np.ndarray]] = {"y": [], "model": [], "stage": [], "rules": []}
    per_date = []
    for t in snapshots:
        inputs = FeatureInputs.load(store, t.to_pydatetime())
        result = train(inputs)
        open_ids = store.as_of(t).open_opportunities()["Id"]
        done = final.loc[open_ids]
        judged = done[done["IsClosed"]].index
        feats = compute(inputs, pd.DataFrame({"OpportunityId": judged, "AsOf": t}))
        y = final.loc[judged, "IsWon"].to_numpy(int)
        scores = {
            "model": result.model.predict(feats[list(FEATURE_NAMES)]),
            "stage": feats["sf_probability"].fillna(10).to_numpy() / 100.0,
            "rules": rule_probability(feats),
        }
        row = {
            "as_of": str(t.date()),
            "deals": len(y),
            "won": int(y.sum()),
            "calibration": result.fit.calibration,
        }
        for name, p in scores.items():
            m = metrics.evaluate(y, p)
            row[name] = {"auc": round(m.auc, 4), "brier": round(m.brier, 4), "ece": round(m.ece, 4)}
            pooled[name].append(p)
        pooled["y"].append(y)
        feats_all = compute(inputs, pd.DataFrame({"OpportunityId": open_ids, "AsOf": t}))
        p_all = result.model.predict(feats_all[list(FEATURE_NAMES)])
        closed = final.loc[open_ids, "IsClosed"].to_numpy(bool)
        y_all = np.where(
            closed, final.loc[open_ids, "IsWon"].to_numpy(bool), eventual.reindex(open_ids)
        ).astype(int)
        everyone["y"].append(y_all)
        everyone["model"].append(p_all)
        m_all = metrics.evaluate(y_all, p_all)
        row["every_open_deal"] = {
            "deals": len(y_all),
            "sum_p": round(float(p_all.sum()), 1),
            "won": int(y_all.sum()),
            "auc": round(m_all.auc, 4),
            "ece": round(m_all.ece, 4),
        }
        per_date.append(row)
        print(
            f"{row['as_of']}: {row['deals']:,} deals judged, AUC model "
            f"{row['model']['auc']:.3f} / stage {row['stage']['auc']:.3f} / rules "
            f"{row['rules']['auc']:.3f}; ECE model {row['model']['ece']:.3f}",
            flush=True,
        )
    y_all = np.concatenate(pooled["y"])
    summary = {}
    for name in ("model", "stage", "rules"):
        m = metrics.evaluate(y_all, np.concatenate(pooled[name]))
        summary[name] = {
            "auc": round(m.auc, 4),
            "brier": round(m.brier, 4),
            "ece": round(m.ece, 4),
            "log_loss": round(m.log_loss, 4),
        }
    summary["auc_gain_over_stage"] = round(summary["model"]["auc"] - summary["stage"]["auc"], 4)
    y_every, p_every = np.concatenate(everyone["y"]), np.concatenate(everyone["model"])
    m = metrics.evaluate(y_every, p_every)
    summary["model_every_open_deal"] = {
        "deals": len(y_every),
        "sum_p": round(float(p_every.sum()), 1),
        "won": int(y_every.sum()),
        "auc": round(m.auc, 4),
        "ece": round(m.ece, 4),
    }
    print(f"every deal open at T (eventual outcome): {summary['model_every_open_deal']}")
    return {"per_snapshot": per_date, "pooled": summary, "judged": len(y_all)}


def speed(scale: float, retrain: bool = False) -> dict[str, Any]:
    store = demo_store(scale)
    registry = Registry(store.engine, "bench")
    if registry.champion() is None or retrain:
        start = time.perf_counter()
        print(f"training at scale {scale:g} ...", flush=True)
        result, _ = train_model(store, END, "bench")
        if result is not None:
            registry.promote(registry.list()[0].version)
        print(f"  trained in {time.perf_counter() - start:.1f}s", flush=True)
    model, record = registry.load()
    ids = list(store.as_of(END).open_opportunities()["Id"])
    out: dict[str, Any] = {
        "open_deals": len(ids),
        "model_version": record.version,
        "trees": model.params.n_estimators,
        "depth": model.params.max_depth,
    }

    def full() -> None:  # the feature store's read: activities summed per deal at END
        inputs = FeatureInputs.load(store, END, ids, horizon_only=True)
        feats = compute(inputs, pd.DataFrame({"OpportunityId": ids, "AsOf": END}))
        values = feats[model.features].astype(float)
        margin = model.margin(values)
        model.calibrator.apply(margin)
        impacts = explain.impacts(model.contributions(values), margin, model.calibrator)
        for i in range(len(values)):
            explain.top_factors(feats.iloc[i], model.features, impacts[i], set())

    feats = compute(
        FeatureInputs.load(store, END, ids), pd.DataFrame({"OpportunityId": ids, "AsOf": END})
    )
    matrix = xgb.DMatrix(
        feats[model.features].astype(float).fillna(model.medians).to_numpy(float),
        feature_names=model.features,
    )

    def bare() -> None:
        model.booster.predict(matrix)
        model.booster.predict(matrix, pred_contribs=True)

    out["full_pipeline_s"] = round(best_of(full, 2), 3)
    out["bare_predict_contribs_s"] = round(best_of(bare), 3)
    out["ratio_full_to_bare"] = round(out["full_pipeline_s"] / out["bare_predict_contribs_s"], 1)

    big = feats[model.features].astype(float)
    big = pd.concat([big] * (100_000 // len(big) + 1), ignore_index=True).iloc[:100_000]
    out["exact_shap_100k_s"] = round(best_of(lambda: model.contributions(big), 2), 3)

    changed = ids[:500]
    fs = FeatureStore(store)
    fs.features(END, ids)  # everything materialised, as after a normal scoring run
    # A warm service: the org context (hourly cache) and the parsed champion are in memory.
    # The changed deals' materialised features are dropped, as an import touching them does,
    # so their CRM rows, activities and text-signal flags are read again every time.

    def incremental() -> None:  # features + model + SHAP + actions
        fs.invalidate(changed)
        _score_fresh(store, END, changed)

    def incremental_scored() -> None:  # the whole `score` call: + snapshot, persist, audit
        fs.invalidate(changed)
        score(store, END, changed, actor="bench")

    # 2 shared cores time a 0.4 s call to +-20% and drift between runs: best and median of 9,
    # each run next to a run of `bare` (9,647 deals), whose ratio cancels the machine's speed
    for name, fn in (
        ("incremental_500", incremental),
        ("incremental_500_score_call", incremental_scored),
    ):
        fn()  # warm: the org context, the champion, SQLite's page cache
        pairs = sorted((_seconds(fn), _seconds(bare)) for _ in range(9))
        times = [t for t, _ in pairs]
        ratios = sorted(t / b for t, b in pairs)
        out[f"{name}_s"] = round(times[0], 3)
        out[f"{name}_median_s"] = round(times[len(times) // 2], 3)
        out[f"{name}_to_bare_median"] = round(ratios[len(ratios) // 2], 2)
    return out


def _seconds(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=["quality", "speed"])
    parser.add_argument("--scale", type=float, default=None)
    parser.add_argument("--retrain", action="store_true", help="speed: train a new champion")
    args = parser.parse_args()
    scale = args.scale or (1.0 if args.what == "quality" else 10.0)
    result = quality(scale) if args.what == "quality" else speed(scale, args.retrain)
    OUT.mkdir(exist_ok=True)
    (OUT / f"scoring-{args.what}.json").write_text(json.dumps(result, indent=2, default=str))
    print(json.dumps(result if args.what == "speed" else result["pooled"], indent=2))


if __name__ == "__main__":
    main()
