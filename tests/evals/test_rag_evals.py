"""CI gate for the RAG evals (`dealcast.evals.runner`): a scale-0.05 demo org, its index and
golden set; recall@5, citation precision and grounding rate must stay above THRESHOLDS.

Measured (seed 11, scale 0.05, 38 questions, no LLM): recall@5 0.90-0.93, citation
precision 0.92, grounding rate 1.00. Thresholds sit a little under: recall@5 0.85, citation
precision 0.85, grounding rate 0.95."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealcast.evals.rag_golden import build_golden_set
from dealcast.evals.rag_metrics import QuestionResult, recall_at, summarize
from dealcast.evals.runner import AS_OF, THRESHOLDS, evaluate, failures, prepare_org


@pytest.fixture(scope="module")
def summary(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, float]]:
    store, retriever = prepare_org(Path(tmp_path_factory.mktemp("rag-eval")), 0.05)
    try:
        golden = build_golden_set(store, AS_OF)
        assert {q.kind for q in golden} >= {"competitor_org", "pricing", "budget", "security"}
        return summarize(evaluate(store, retriever, golden))
    finally:
        store.close()


def test_rag_metrics_meet_the_thresholds(summary: dict[str, dict[str, float]]) -> None:
    assert summary["all"]["questions"] >= 20
    assert failures(summary) == [], summary


def test_thresholds_are_the_ones_measured() -> None:
    assert THRESHOLDS == {"recall@5": 0.85, "citation_precision": 0.85, "grounding_rate": 0.95}


def test_recall_is_capped_by_k() -> None:
    many = QuestionResult(
        "q", "k", frozenset(str(i) for i in range(50)), ("1", "2", "x"), (), 0, 0, 0
    )
    assert recall_at([many], k=3) == 2 / 3
