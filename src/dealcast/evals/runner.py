"""RAG evals, offline: a small demo org, its index, the golden set, and the metrics.

    python -m dealcast.evals.runner [--workdir DIR] [--scale 0.05] [--per-type 6]

Builds (or, with --workdir, reuses) a demo org at `scale` imported into SQLite and its
Chroma index, builds the golden set (`rag_golden`), asks every question through the
evidence tool without an LLM (`tools.evidence.search_evidence_impl`, as admin, as of the
demo's today) and prints recall@5, citation precision and grounding rate overall and per
question kind. Exit status 1 when a metric is under `THRESHOLDS` (tests/evals gate on it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from dealcast.crm.store import Store
from dealcast.evals.rag_golden import GoldenQuestion, build_golden_set
from dealcast.evals.rag_metrics import QuestionResult, summarize

SEED = 11
TODAY = date(2026, 6, 30)
AS_OF = datetime(2026, 6, 30, 23, 59, 59)
# measured 0.90-0.93 / 0.92 / 1.00 (see tests/evals/test_rag_evals.py); CI fails under them
THRESHOLDS = {"recall@5": 0.85, "citation_precision": 0.85, "grounding_rate": 0.95}


def prepare_org(workdir: Path, scale: float = 0.05) -> tuple[Store, Any]:
    """The demo org's store and retriever in `workdir` (built once, then reused)."""
    from dealcast.crm.demo import generate_demo_org
    from dealcast.crm.export_import import import_export
    from dealcast.rag.retriever import open_retriever

    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / f"org-{scale:g}.db"
    fresh = not db.exists()
    store = Store.open(f"sqlite:///{db}")
    if fresh:
        folder = workdir / f"export-{scale:g}"
        generate_demo_org(folder, seed=SEED, scale=scale, today=TODAY)
        import_export(store, folder, actor="rag-eval", as_of=AS_OF)
    return store, open_retriever(store, path=workdir / "chroma")


def evaluate(
    store: Store, retriever: Any, golden: Sequence[GoldenQuestion], as_of: datetime = AS_OF
) -> list[QuestionResult]:
    from dealcast.tools.evidence import search_evidence_impl

    out = []
    for q in golden:
        started = time.perf_counter()
        ev = search_evidence_impl(
            store,
            as_of,
            q.question,
            user_id=None,
            role="admin",
            deal_ids=list(q.deal_ids),
            retriever=retriever,
        )
        grounding = ev.get("grounding") or {}
        out.append(
            QuestionResult(
                id=q.id,
                kind=q.kind,
                relevant=q.relevant,
                retrieved=tuple(str(p["activity_id"]) for p in ev["passages"]),
                cited=tuple(str(c["activity_id"]) for c in ev["quotes"]),
                claims=int(grounding.get("claims", 0)),
                supported=int(grounding.get("supported", 0)),
                seconds=time.perf_counter() - started,
            )
        )
    return out


def failures(summary: dict[str, dict[str, float]]) -> list[str]:
    overall = summary["all"]
    return [f"{m} {overall[m]:.3f} < {t}" for m, t in THRESHOLDS.items() if overall[m] < t]


def table(summary: dict[str, dict[str, float]]) -> str:
    cols = ["questions", "recall@5", "citation_precision", "grounding_rate", "seconds"]
    lines = [f"{'kind':<16}" + "".join(f"{c:>20}" for c in cols)]
    for name, row in summary.items():
        lines.append(f"{name:<16}" + "".join(f"{row[c]:>20g}" for c in cols))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, help="reuse the org and index built here")
    parser.add_argument("--scale", type=float, default=0.05)
    parser.add_argument("--per-type", type=int, default=6)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        store, retriever = prepare_org(args.workdir or Path(tmp), args.scale)
        built = time.perf_counter() - started
        golden = build_golden_set(store, AS_OF, per_type=args.per_type)
        summary = summarize(evaluate(store, retriever, golden))
        store.close()
    print(table(summary))
    print(f"org + index ready in {built:.1f}s; {len(golden)} questions")
    bad = failures(summary)
    for line in bad:
        print(f"FAIL: {line}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
