"""Benchmark our deal-scoring pipeline on two public win/loss datasets.

Trains `dealcast.ml.model.CalibratedModel` (XGBoost + Platt/isotonic calibration) and a plain
scikit-learn logistic regression on the same folds and scores both on a held-out test fold with
`dealcast.ml.metrics.evaluate`.

Datasets are read in place from `--data-dir` (default `<repo>/../shared/data`); see each
dataset's SOURCE.md for provenance, leakage notes and the published reference numbers.

- IBM Watson "Sales Win Loss" (78,025 rows): exact duplicates dropped; only creation-time
  columns are used, as two feature sets ("creation-time" and "strict", see SOURCE.md). No
  dates, so two splits: "id-order" (rows ordered by Opportunity Number: train the first 60 %,
  calibration the next 20 %, test the last 20 %) and "random" (seeded, grouped by Opportunity
  Number, stratified, 60/20/20, one split per repeat).
- Salvirt B2B (448 rows): exact duplicates dropped (365 rows). No dates, ids or documented row
  order, so only the random split, run as repeated stratified 5-fold CV (each fold is the
  test set once; the other 80 % is cut 60/20 into train and calibration).

Our pipeline's calibration fold is cut in two halves by default: the first half fits the
calibrators and the second half chooses between them (`--calib-valid halves`; in the ordered
split the halves are in id order). `--calib-valid same` passes the whole fold as both.
Logistic regression (amount standardised; categoricals and integer bands one-hot) is fitted on
the training fold only and its probabilities are not calibrated. "xgb-raw" is our booster
without its calibrator, to show what calibration adds or costs.

Run from the repo root:  .venv/bin/python bench/public_datasets.py
Writes the same numbers as JSON to bench/out/public_datasets.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import xgboost
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from dealcast.ml import metrics
from dealcast.ml.model import CalibratedModel, ModelParams

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "bench" / "out" / "public_datasets.json"

N_FOLDS = 5  # random split: the test fold is 1/5 of the groups
TRAIN_FRAC, CALIB_FRAC = 0.6, 0.2  # of all rows; the test fold is the remaining 20 %
ECE_BINS = 10
MODELS = ("ours", "xgb-raw", "logreg")
METRIC_NAMES = ("auc", "brier", "log_loss", "ece")

# ---- IBM Watson "Sales Win Loss" --------------------------------------------------------
IBM_DIR, IBM_FILE = "ibm_sales_win_loss", "WA_Fn-UseC_-Sales-Win-Loss.csv"
IBM_ID, IBM_TARGET = "Opportunity Number", "Opportunity Result"
IBM_CATEGORICAL = [
    "Supplies Subgroup",
    "Supplies Group",
    "Region",
    "Route To Market",
    "Competitor Type",
]
IBM_BANDS = ["Client Size By Revenue", "Client Size By Employee Count", "Deal Size Category"]
# Known at creation, but SOURCE.md flags both as possibly carrying outcome information.
IBM_SUSPECT = ["Opportunity Amount USD", "Revenue From Client Past Two Years"]
# Describe the completed sales process: not available (or different) while a deal is open.
IBM_LEAKY = [
    "Elapsed Days In Sales Stage",
    "Sales Stage Change Count",
    "Total Days Identified Through Closing",
    "Total Days Identified Through Qualified",
    "Ratio Days Identified To Total Days",
    "Ratio Days Validated To Total Days",
    "Ratio Days Qualified To Total Days",
]

# ---- Salvirt B2B -----------------------------------------------------------------------
SALVIRT_DIR, SALVIRT_FILE = "salvirt_b2b_sales", "Salvirt_B2B_ML_dataset.csv"
SALVIRT_TARGET = "Status"
# SOURCE.md: sellers' assessments that "could have been updated late in the deal".
SALVIRT_LATE = ["Posit_statm", "Scope", "Needs_def"]


@dataclass(frozen=True)
class FeatureSet:
    name: str
    categorical: list[str]  # strings: one-hot for both models
    ordinal: list[str]  # integer bands: numeric for XGBoost, one-hot for logistic regression
    numeric: list[str]  # numeric for XGBoost, standardised for logistic regression
    note: str

    @property
    def columns(self) -> list[str]:
        return self.categorical + self.ordinal + self.numeric


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame  # deduplicated rows, candidate feature columns only
    y: np.ndarray  # 1 = won
    groups: np.ndarray  # rows sharing a group never straddle folds
    order: np.ndarray | None  # key for the ordered split; None: the data has no order
    order_name: str
    test_folds: int  # random split: test folds used per repeat (out of N_FOLDS)
    feature_sets: list[FeatureSet]
    info: dict[str, Any]


@dataclass(frozen=True)
class Split:
    kind: str
    repeat: int
    fold: int
    train: np.ndarray
    calib: np.ndarray
    valid: np.ndarray
    test: np.ndarray


# ---- loading ----------------------------------------------------------------------------
def load_ibm(data_dir: Path) -> Dataset:
    path = data_dir / IBM_DIR / IBM_FILE
    # keep_default_na=False: the Competitor Type level "None" must stay a category, not NaN
    raw = pd.read_csv(path, keep_default_na=False)
    expected = {IBM_ID, IBM_TARGET, *IBM_CATEGORICAL, *IBM_BANDS, *IBM_SUSPECT, *IBM_LEAKY}
    if set(raw.columns) != expected:
        raise ValueError(f"{path}: unexpected columns {sorted(set(raw.columns) ^ expected)}")
    levels = set(raw["Competitor Type"].unique())
    if levels != {"Known", "Unknown", "None"}:
        raise ValueError(f"{path}: Competitor Type levels {sorted(levels)}")
    outcomes = set(raw[IBM_TARGET].unique())
    if outcomes != {"Won", "Loss"}:
        raise ValueError(f"{path}: outcome values {sorted(outcomes)}")
    df = raw.drop_duplicates().reset_index(drop=True)
    ids = df[IBM_ID].to_numpy()
    y = (df[IBM_TARGET] == "Won").to_numpy(int)
    frame = df[IBM_CATEGORICAL + IBM_BANDS + IBM_SUSPECT].copy()
    frame[IBM_CATEGORICAL] = frame[IBM_CATEGORICAL].astype(str)
    frame[IBM_BANDS + IBM_SUSPECT] = frame[IBM_BANDS + IBM_SUSPECT].astype(float)
    return Dataset(
        name="ibm_sales_win_loss",
        frame=frame,
        y=y,
        groups=ids,
        order=ids,
        order_name="id-order",
        test_folds=1,
        feature_sets=[
            FeatureSet(
                "creation-time",
                IBM_CATEGORICAL,
                [*IBM_BANDS, "Revenue From Client Past Two Years"],
                ["Opportunity Amount USD"],
                "categoricals + size/deal bands + exact amount + revenue past 2y",
            ),
            FeatureSet(
                "strict",
                IBM_CATEGORICAL,
                IBM_BANDS,
                [],
                "categoricals + size/deal bands (no exact amount, no revenue past 2y)",
            ),
        ],
        info={
            "file": str(path),
            "rows_raw": len(raw),
            "rows": len(df),
            "exact_duplicates_dropped": len(raw) - len(df),
            "unique_ids": len(np.unique(ids)),
            "rows_repeating_an_id": int(len(df) - len(np.unique(ids))),
            "excluded_leaky_columns": IBM_LEAKY,
            "win_rate": float(y.mean()),
        },
    )


def load_salvirt(data_dir: Path) -> Dataset:
    path = data_dir / SALVIRT_DIR / SALVIRT_FILE
    raw = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False)
    outcomes = set(raw[SALVIRT_TARGET].unique())
    if outcomes != {"Won", "Lost"}:
        raise ValueError(f"{path}: outcome values {sorted(outcomes)}")
    df = raw.drop_duplicates().reset_index(drop=True)
    y = (df[SALVIRT_TARGET] == "Won").to_numpy(int)
    inputs = [c for c in df.columns if c != SALVIRT_TARGET]
    frame = df[inputs].astype(str)
    same_inputs = frame.duplicated(keep=False)
    early = [c for c in inputs if c not in SALVIRT_LATE]
    return Dataset(
        name="salvirt_b2b_sales",
        frame=frame,
        y=y,
        groups=np.arange(len(df)),
        order=None,
        order_name="",
        test_folds=N_FOLDS,
        feature_sets=[
            FeatureSet("all-22", inputs, [], [], "all 22 seller-entered attributes"),
            FeatureSet(
                "no-late-19",
                early,
                [],
                [],
                f"sensitivity check: without {', '.join(SALVIRT_LATE)} (may be updated late)",
            ),
        ],
        info={
            "file": str(path),
            "rows_raw": len(raw),
            "rows": len(df),
            "exact_duplicates_dropped": len(raw) - len(df),
            "rows_sharing_inputs_with_other_outcome": int(same_inputs.sum()),
            "win_rate": float(y.mean()),
        },
    )


# ---- splits -----------------------------------------------------------------------------
def ordered_split(order: np.ndarray, groups: np.ndarray, kind: str, calib_valid: str) -> Split:
    """Train the first 60 % by `order`, calibration the next 20 %, test the last 20 %.

    A group is placed by the position of its first row, so no group straddles a boundary.
    With `calib_valid == "halves"` the calibration fold is cut in order at 70 %.
    """
    n = len(order)
    position = np.empty(n)
    position[np.argsort(order, kind="stable")] = np.arange(n) / n
    first = pd.Series(position).groupby(groups).transform("min").to_numpy()
    cut_train, cut_test = TRAIN_FRAC, TRAIN_FRAC + CALIB_FRAC
    train = np.flatnonzero(first < cut_train)
    calib_fold = (first >= cut_train) & (first < cut_test)
    test = np.flatnonzero(first >= cut_test)
    if calib_valid == "halves":
        mid = cut_train + CALIB_FRAC / 2
        calib, valid = (
            np.flatnonzero(calib_fold & (first < mid)),
            np.flatnonzero(calib_fold & (first >= mid)),
        )
    else:
        calib = valid = np.flatnonzero(calib_fold)
    return Split(kind, 0, 0, train, calib, valid, test)


def random_splits(
    groups: np.ndarray,
    y: np.ndarray,
    seed: int,
    repeats: int,
    test_folds: int,
    calib_valid: str,
) -> list[Split]:
    """Seeded splits over groups, stratified by each group's (majority) outcome.

    Per repeat a stratified 5-fold split over groups supplies the test fold(s); the remaining
    80 % is cut into train (60 % of all) and calibration (20 % of all), the latter in halves
    (calibrator fit / calibrator choice) unless `calib_valid == "same"`.
    """
    codes, uniq = pd.factorize(groups)
    group_y = np.rint(np.bincount(codes, weights=y) / np.bincount(codes)).astype(int)
    group_ids = np.arange(len(uniq))
    splits = []
    for r in range(repeats):
        rs = seed * 1000 + r
        skf = StratifiedKFold(n_splits=N_FOLDS, shuffle=True, random_state=rs)
        for k, (rest_g, test_g) in enumerate(skf.split(group_ids, group_y)):
            if k >= test_folds:
                break
            calib_share = CALIB_FRAC / (TRAIN_FRAC + CALIB_FRAC)
            train_g, cal_g = train_test_split(
                rest_g, test_size=calib_share, stratify=group_y[rest_g], random_state=rs + k
            )
            if calib_valid == "halves":
                calib_g, valid_g = train_test_split(
                    cal_g, test_size=0.5, stratify=group_y[cal_g], random_state=rs + k
                )
            else:
                calib_g = valid_g = cal_g

            def rows(g: np.ndarray) -> np.ndarray:
                return np.flatnonzero(np.isin(codes, g))

            splits.append(
                Split("random", r, k, rows(train_g), rows(calib_g), rows(valid_g), rows(test_g))
            )
    return splits


# ---- models -----------------------------------------------------------------------------
def xgb_matrix(frame: pd.DataFrame, fs: FeatureSet) -> pd.DataFrame:
    """Numeric matrix for XGBoost: numerics and bands as is, categoricals one-hot (0/1).

    Levels come from the whole dataset (no outcome information); a level absent from the
    training fold is simply an all-zero column there.
    """
    parts = [frame[fs.ordinal + fs.numeric].astype(float)]
    if fs.categorical:
        cats = pd.get_dummies(frame[fs.categorical], prefix_sep="=", dtype=float)
        parts.append(cats)
    return pd.concat(parts, axis=1)


def logreg(fs: FeatureSet) -> Pipeline:
    steps: list[tuple[str, Any, list[str]]] = []
    if fs.numeric:
        steps.append(("num", StandardScaler(), fs.numeric))
    if fs.categorical or fs.ordinal:
        one_hot = OneHotEncoder(handle_unknown="ignore")
        steps.append(("cat", one_hot, fs.categorical + fs.ordinal))
    return Pipeline(
        [
            ("prep", ColumnTransformer(steps)),
            ("lr", LogisticRegression(max_iter=2000)),
        ]
    )


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-z)))


def metric_dict(m: metrics.Metrics) -> dict[str, float]:
    return {k: float(getattr(m, k)) for k in METRIC_NAMES}


def run_split(
    data: Dataset, fs: FeatureSet, x_all: pd.DataFrame, split: Split, seed: int
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    raw = data.frame[fs.columns]
    y = data.y

    def fold(idx: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
        return x_all.iloc[idx], y[idx]

    model, report = CalibratedModel.fit(
        train=fold(split.train),
        calib=fold(split.calib),
        valid=fold(split.valid),
        params=ModelParams(seed=seed),
    )
    x_test, y_test = fold(split.test)
    lr = logreg(fs).fit(raw.iloc[split.train], y[split.train])
    preds = {
        "ours": model.predict(x_test),
        "xgb-raw": sigmoid(model.margin(x_test)),
        "logreg": lr.predict_proba(raw.iloc[split.test])[:, 1],
    }
    prior = float(y[split.train].mean())
    prior_p = np.full(len(y_test), prior)
    record: dict[str, Any] = {
        "repeat": split.repeat,
        "fold": split.fold,
        "rows": {
            "train": len(split.train),
            "calibration": len(split.calib),
            "validation": len(split.valid),
            "test": len(split.test),
        },
        "win_rate": {
            "train": prior,
            "calibration": float(y[split.calib].mean()),
            "validation": float(y[split.valid].mean()),
            "test": float(y_test.mean()),
        },
        "prior": {
            "brier": metrics.brier(y_test, prior_p),
            "log_loss": metrics.log_loss(y_test, prior_p),
        },
        "calibrator": report.calibration,
        "calibration_scores_on_validation": report.calibration_scores,
        "models": {
            name: metric_dict(metrics.evaluate(y_test, p, ECE_BINS)) for name, p in preds.items()
        },
    }
    preds["y"] = y_test.astype(float)
    return record, preds


def summarise(runs: list[dict[str, Any]], pooled: dict[str, list[np.ndarray]]) -> dict[str, Any]:
    def stats(values: list[float]) -> dict[str, float]:
        arr = np.asarray(values, dtype=float)
        return {"mean": float(arr.mean()), "std": float(arr.std(ddof=1)) if len(arr) > 1 else 0.0}

    y_pool = np.concatenate(pooled["y"])
    out: dict[str, Any] = {
        "folds": len(runs),
        "rows": {k: stats([r["rows"][k] for r in runs]) for k in runs[0]["rows"]},
        "win_rate": {k: stats([r["win_rate"][k] for r in runs]) for k in runs[0]["win_rate"]},
        "prior": {k: stats([r["prior"][k] for r in runs]) for k in ("brier", "log_loss")},
        "calibrators_chosen": dict(Counter(r["calibrator"] for r in runs)),
        "models": {},
    }
    for name in MODELS:
        per_fold = {k: stats([r["models"][name][k] for r in runs]) for k in METRIC_NAMES}
        # All test predictions of all folds evaluated together (rows recur across repeats).
        pool = metrics.evaluate(y_pool, np.concatenate(pooled[name]), ECE_BINS)
        out["models"][name] = {"per_fold": per_fold, "pooled": pool.as_dict()}
    return out


# ---- output -----------------------------------------------------------------------------
def fmt(s: dict[str, float], digits: int = 3) -> str:
    if s["std"] > 0:
        return f"{s['mean']:.{digits}f}±{s['std']:.{digits}f}"
    return f"{s['mean']:.{digits}f}"


def print_table(results: list[dict[str, Any]], calib_valid: str) -> None:
    header = (
        f"{'dataset':<19}{'features':<15}{'split':<10}{'model':<9}"
        f"{'AUC':>13}{'Brier':>13}{'log-loss':>13}{'ECE':>13}"
    )
    print()
    print(header)
    print("-" * len(header))
    for res in results:
        s = res["summary"]
        lead = f"{res['dataset']:<19}{res['features']:<15}{res['split']:<10}"
        blank = " " * len(lead)
        for i, name in enumerate(MODELS):
            m = s["models"][name]["per_fold"]
            cells = "".join(f"{fmt(m[k]):>13}" for k in METRIC_NAMES)
            print(f"{lead if i == 0 else blank}{name:<9}{cells}")
        prior = s["prior"]
        print(
            f"{blank}{'prior':<9}{'0.500':>13}{fmt(prior['brier']):>13}"
            f"{fmt(prior['log_loss']):>13}{'':>13}"
        )
        rows, wr = s["rows"], s["win_rate"]
        folds = ("train", "calibration", "validation", "test")
        counts = "/".join(f"{rows[k]['mean']:.0f}" for k in folds)
        rates = "/".join(f"{wr[k]['mean']:.1%}" for k in folds)
        chosen = ", ".join(f"{k}×{v}" for k, v in sorted(s["calibrators_chosen"].items()))
        notes = [
            f"rows train/cal/val/test {counts}",
            f"win rate {rates}",
            f"{s['folds']} fold(s)",
            f"calibrator chosen: {chosen}",
        ]
        if s["folds"] > 1:
            pooled = "/".join(f"{s['models'][n]['pooled']['ece']:.3f}" for n in MODELS)
            notes.append(f"pooled-test ECE ours/xgb-raw/logreg {pooled}")
        print(f"{blank}  " + "; ".join(notes[:2]))
        print(f"{blank}  " + "; ".join(notes[2:]))
        print()
    how = (
        "first half fits Platt/isotonic, second half picks one"
        if calib_valid == "halves"
        else "the whole fold fits Platt/isotonic and also picks one"
    )
    legend = [
        f"ours    = CalibratedModel: XGBoost on the train fold; calibration fold: {how}",
        "xgb-raw = the same booster, uncalibrated: sigmoid(margin)",
        "logreg  = sklearn LogisticRegression on the train fold, uncalibrated; amount",
        "          standardised, categoricals and integer bands one-hot",
        "prior   = always the train fold's win rate",
        "Metrics on the held-out test fold; mean±std over folds where there are several;",
        "ECE uses 10 equal-width bins. Win rates: train/calibration/validation/test folds.",
    ]
    print("\n".join(legend))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help=f"folder holding the dataset folders (default: {DEFAULT_DATA_DIR})",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for splits and XGBoost")
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="random split: repeats (IBM: one 60/20/20 split each; Salvirt: a 5-fold CV each)",
    )
    parser.add_argument(
        "--calib-valid",
        choices=("halves", "same"),
        default="halves",
        help="calibration fold: cut into fit/choose halves, or pass it as both",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON output path")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    started = time.perf_counter()
    loaders: list[Callable[[Path], Dataset]] = [load_ibm, load_salvirt]
    results: list[dict[str, Any]] = []
    datasets_info: dict[str, Any] = {}
    for load in loaders:
        data = load(args.data_dir)
        datasets_info[data.name] = data.info
        splits: list[Split] = []
        if data.order is not None:
            splits.append(ordered_split(data.order, data.groups, data.order_name, args.calib_valid))
        splits += random_splits(
            data.groups, data.y, args.seed, args.repeats, data.test_folds, args.calib_valid
        )
        for fs in data.feature_sets:
            x_all = xgb_matrix(data.frame, fs)
            for kind in dict.fromkeys(s.kind for s in splits):
                t0 = time.perf_counter()
                runs: list[dict[str, Any]] = []
                pooled: dict[str, list[np.ndarray]] = {k: [] for k in (*MODELS, "y")}
                for split in (s for s in splits if s.kind == kind):
                    record, preds = run_split(data, fs, x_all, split, args.seed)
                    runs.append(record)
                    for k, v in preds.items():
                        pooled[k].append(v)
                results.append(
                    {
                        "dataset": data.name,
                        "features": fs.name,
                        "feature_note": fs.note,
                        "feature_columns": fs.columns,
                        "split": kind,
                        "seconds": round(time.perf_counter() - t0, 2),
                        "summary": summarise(runs, pooled),
                        "runs": runs,
                    }
                )
                print(
                    f"[{time.perf_counter() - started:5.1f}s] {data.name} {fs.name} {kind}: "
                    f"{len(runs)} fold(s)",
                    file=sys.stderr,
                )

    print_table(results, args.calib_valid)
    doc = {
        "script": "bench/public_datasets.py",
        "args": {
            "data_dir": str(args.data_dir),
            "seed": args.seed,
            "repeats": args.repeats,
            "calib_valid": args.calib_valid,
        },
        "versions": {
            "python": platform.python_version(),
            "pandas": pd.__version__,
            "numpy": np.__version__,
            "scikit-learn": sklearn.__version__,
            "xgboost": xgboost.__version__,
        },
        "model_params": asdict(ModelParams(seed=args.seed)),
        "fractions": {"train": TRAIN_FRAC, "calibration": CALIB_FRAC, "test": 0.2},
        "ece_bins": ECE_BINS,
        "datasets": datasets_info,
        "results": results,
        "seconds": round(time.perf_counter() - started, 2),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(_jsonable(doc), indent=2, allow_nan=False) + "\n")
    print(f"\nwrote {args.out} in {doc['seconds']:.1f}s", file=sys.stderr)
    return 0


def _jsonable(value: Any) -> Any:
    """NaN (e.g. an empty reliability bin) becomes null: keeps the JSON strict."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


if __name__ == "__main__":
    sys.exit(main())
