"""Text signals: quality on the held-out snippets, and throughput on demo-like texts.

quality: precision / recall / F1 per signal on the test split of
  `dealcast/evals/data/text_snippets.jsonl` for the patterns alone, the classifier alone
  (its own threshold, chosen on the train split) and the default combination (the gate).
  The test split has only 16-36 positives per signal: differences below ~0.05 are noise.
speed: `TextSignals.detect` on --texts texts sampled from the demo org's emails, calls and
  meetings (built like the features build them: subject + body), patterns alone vs combined.

    .venv/bin/python bench/text_signals.py [--texts 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, demo_export
from dealcast.evals import load_snippets
from dealcast.risk.text_classifier import default_classifier, labels_matrix
from dealcast.risk.text_patterns import SIGNALS, TextSignals

METHODS = ("patterns", "classifier", "combined")


def prf(truth: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    tp = int(np.sum(truth & pred))
    precision = tp / max(int(pred.sum()), 1)
    recall = tp / max(int(truth.sum()), 1)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "support": int(truth.sum())}


def quality() -> dict[str, Any]:
    test = load_snippets("test")
    texts = pd.Series([s.text for s in test])
    truth = labels_matrix([s.labels for s in test])
    model = default_classifier()
    proba = model.proba(texts.tolist())
    alone = np.array([model.alone[s] for s in SIGNALS])
    preds = {
        "patterns": TextSignals(use_classifier=False).detect(texts)[list(SIGNALS)].to_numpy(),
        "classifier": proba >= alone,
        "combined": TextSignals().detect(texts)[list(SIGNALS)].to_numpy(),
    }
    table = {
        m: {s: prf(truth[:, j], preds[m][:, j]) for j, s in enumerate(SIGNALS)} for m in METHODS
    }
    for m in METHODS:
        table[m]["macro"] = {
            k: float(np.mean([table[m][s][k] for s in SIGNALS]))
            for k in ("precision", "recall", "f1")
        }
    return {
        "test_snippets": len(test),
        "gates": {s: vars(g) for s, g in model.gates.items()},
        "classifier_thresholds": model.alone,
        "table": table,
    }


def demo_texts(n: int) -> pd.Series:
    folder = demo_export(1.0)
    parts = []
    sources = (("EmailMessage", "TextBody"), ("Task", "Description"), ("Event", "Description"))
    for name, body in sources:
        frame = pd.read_csv(folder / f"{name}.csv", usecols=["Subject", body])
        parts.append(frame["Subject"].fillna("") + "\n" + frame[body].fillna(""))
    pool = pd.concat(parts, ignore_index=True)
    return pool.sample(n, replace=n > len(pool), random_state=0).reset_index(drop=True)


def speed(n: int) -> dict[str, Any]:
    texts = demo_texts(n)
    start = time.perf_counter()
    default_classifier.cache_clear()
    default_classifier()
    train_s = time.perf_counter() - start
    out: dict[str, Any] = {"texts": n, "mean_chars": float(texts.str.len().mean())}
    out["train_seconds"] = train_s
    variants = (("patterns", TextSignals(use_classifier=False)), ("combined", TextSignals()))
    for label, signals in variants:
        start = time.perf_counter()
        flags = signals.detect(texts)
        seconds = time.perf_counter() - start
        rate = flags.mean().to_dict()
        out[label] = {"seconds": seconds, "texts_per_s": n / seconds, "flag_rate": rate}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--texts", type=int, default=100_000)
    args = parser.parse_args()
    result = {"quality": quality(), "speed": speed(args.texts)}
    table = result["quality"]["table"]
    print(f"held-out snippets: {result['quality']['test_snippets']}  (P / R / F1)")
    print(f"{'signal':17s} {'n':>3s}  " + "  ".join(f"{m:^16s}" for m in METHODS))
    for s in [*SIGNALS, "macro"]:
        n = str(table["patterns"][s].get("support", ""))
        cells = "  ".join(
            f"{table[m][s]['precision']:.2f} {table[m][s]['recall']:.2f} {table[m][s]['f1']:.2f}"
            for m in METHODS
        )
        print(f"{s:17s} {n:>3s}  {cells}")
    sp = result["speed"]
    print(f"\nthroughput on {sp['texts']:,} demo texts (mean {sp['mean_chars']:.0f} chars):")
    print(f"  training at first use: {sp['train_seconds']:.2f} s")
    for label in ("patterns", "combined"):
        rate, seconds = sp[label]["texts_per_s"], sp[label]["seconds"]
        print(f"  {label:9s} {rate:8,.0f} texts/s ({seconds:.1f} s)")
    OUT.mkdir(exist_ok=True)
    (OUT / "text_signals.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {OUT / 'text_signals.json'}")


if __name__ == "__main__":
    main()
