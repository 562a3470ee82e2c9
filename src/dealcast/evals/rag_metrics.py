"""RAG eval metrics over golden questions (`evals.rag_golden`).

- recall@k: per question, relevant activities among the top k retrieved (after grading,
  duplicates of one activity counted once) over min(k, number relevant) — capped, so a
  question with 80 relevant activities can still score 1.0 — averaged over questions;
- citation precision: of every activity cited in the answers, the share that answers its
  question (micro-averaged);
- grounding rate: of every claim in the answers, the share the grounding check supports
  (micro-averaged).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class QuestionResult:
    id: str
    kind: str
    relevant: frozenset[str]
    retrieved: tuple[str, ...]  # activity ids, best first
    cited: tuple[str, ...]  # activity ids cited in the answer
    claims: int
    supported: int
    seconds: float


def recall_at(results: Sequence[QuestionResult], k: int = 5) -> float:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scores = []
    for r in results:
        top = list(dict.fromkeys(r.retrieved))[:k]
        scores.append(len(set(top) & r.relevant) / min(k, len(r.relevant)))
    return sum(scores) / len(scores) if scores else 0.0


def citation_precision(results: Sequence[QuestionResult]) -> float:
    cited = sum(len(r.cited) for r in results)
    good = sum(sum(c in r.relevant for c in r.cited) for r in results)
    return good / cited if cited else 0.0


def grounding_rate(results: Sequence[QuestionResult]) -> float:
    claims = sum(r.claims for r in results)
    return sum(r.supported for r in results) / claims if claims else 1.0


def summarize(results: Sequence[QuestionResult], k: int = 5) -> dict[str, dict[str, float]]:
    """Metrics overall ("all") and per question kind."""
    groups: dict[str, list[QuestionResult]] = {"all": list(results)}
    for r in results:
        groups.setdefault(r.kind, []).append(r)
    return {
        name: {
            "questions": float(len(rows)),
            f"recall@{k}": round(recall_at(rows, k), 4),
            "citation_precision": round(citation_precision(rows), 4),
            "grounding_rate": round(grounding_rate(rows), 4),
            "seconds": round(sum(r.seconds for r in rows), 2),
        }
        for name, rows in groups.items()
    }
