"""RAG index throughput and retrieval quality on a demo org generated in a temp dir.

    .venv/bin/python bench/rag.py [--scale 0.02] [--seed 7] [--per-topic 8]

Throughput: a full index build (documents -> chunks -> embeddings -> Chroma) in chunks/s
against the floor measured in the same run: the bare MiniLM embedding of the same texts
(ratio = index time / floor time; 1.0 would mean Chroma and document building are free).
Then the incremental cost: a no-op update, and one after 1% of emails changed and 0.5% of
tasks were deleted (only those are re-embedded).

Quality: recall@5 per method on questions labelled from the generator's own templates
(`crm.demo.phrases`): an activity is relevant to a topic when its text carries one of the
topic's sentences with every {slot} matched as free text. Deal questions are paraphrases
that avoid the template wording, scoped to one deal (as the agent asks them); org-wide
questions name a competitor. recall@5 = relevant activities in the top 5 / min(5, relevant).
Methods: MiniLM int8 (dense, Chroma), WordLlama (dense, static embeddings, numpy; skipped if
not installed), BM25 alone, and hybrid (MiniLM + BM25, reciprocal rank fusion).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select, update

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import OUT, TODAY
from dealcast.crm.demo import generate_demo_org, names, phrases
from dealcast.crm.export_import import import_export
from dealcast.crm.pit import as_of_instant
from dealcast.crm.schema import CRM_TABLES
from dealcast.crm.store import Store
from dealcast.rag.documents import build_documents
from dealcast.rag.embeddings import MiniLmEmbeddingFunction
from dealcast.rag.index import update_index
from dealcast.rag.retriever import Retriever, SearchFilter, open_retriever

K = 5
DEAL_QUESTIONS = {  # topic -> (generator topics, a paraphrase that avoids their wording)
    "pricing": (("pricing",), "Did the customer push back on cost or ask us to go lower?"),
    "budget_frozen": (("budget_frozen",), "Has their spending been put on hold or cut?"),
    "security": (("security",), "Where does the infosec approval of our vendor stand?"),
    "legal": (("legal",), "Any problems with the contract terms or the lawyers' comments?"),
    "competitor": (
        ("competitor", "lost_competitor"),
        "Which rival vendor are they also evaluating against us?",
    ),
    "procurement": (("procurement",), "What paperwork does their purchasing team need?"),
}
MEDIA = ("in", "out", "call", "meet", "todo")
Search = Callable[[str, SearchFilter], list[str]]  # -> activity ids, best first


def _pattern(topics: tuple[str, ...]) -> re.Pattern[str]:
    parts = []
    for topic in topics:
        for medium in MEDIA:
            for template in phrases.TOPICS[topic].get(medium, ()):
                pieces = re.split(r"\{[a-z_]+\}", template)
                parts.append(".+?".join(re.escape(p) for p in pieces))
    return re.compile("|".join(parts), re.IGNORECASE)


def golden(docs: list[Any], per_topic: int) -> list[dict[str, Any]]:
    by_activity: dict[str, tuple[str | None, str]] = {}
    for d in docs:
        prev = by_activity.get(d.metadata["activity_id"], (d.metadata.get("deal_id"), ""))
        by_activity[d.metadata["activity_id"]] = (prev[0], prev[1] + "\n" + d.text)
    questions: list[dict[str, Any]] = []
    for name, (topics, question) in DEAL_QUESTIONS.items():
        pattern = _pattern(topics)
        per_deal: dict[str, set[str]] = {}
        for act, (deal, text) in by_activity.items():
            if deal and pattern.search(text):
                per_deal.setdefault(deal, set()).add(act)
        deals = [d for d in sorted(per_deal) if len(per_deal[d]) >= 2][:per_topic]
        questions += [
            {"group": name, "query": question, "deals": [d], "relevant": per_deal[d]} for d in deals
        ]
    for competitor in names.COMPETITORS:
        relevant = {a for a, (_, text) in by_activity.items() if competitor in text}
        if relevant:
            questions.append(
                {
                    "group": "competitor_org",
                    "query": f"Which deals mention {competitor}?",
                    "deals": None,
                    "relevant": relevant,
                }
            )
    return questions


def recall_at_k(search: Search, questions: list[dict[str, Any]]) -> dict[str, float]:
    by_group: dict[str, list[float]] = {}
    for q in questions:
        flt = SearchFilter(deal_ids=q["deals"])
        top = list(dict.fromkeys(search(q["query"], flt)))[:K]
        hit = len(set(top) & q["relevant"]) / min(K, len(q["relevant"]))
        by_group.setdefault(q["group"], []).append(hit)
    out = {g: round(float(np.mean(v)), 3) for g, v in by_group.items()}
    out["mean"] = round(float(np.mean([x for v in by_group.values() for x in v])), 3)
    return out


def retriever_search(retriever: Retriever, mode: str) -> Search:
    def run(query: str, flt: SearchFilter) -> list[str]:
        return [p.activity_id for p in retriever.search(query, flt, k=3 * K, mode=mode)]

    return run


def wordllama_search(docs: list[Any], timings: dict[str, float]) -> Search | None:
    try:
        from wordllama import WordLlama
    except ImportError:
        print("wordllama not installed: skipped (pip install wordllama)", flush=True)
        return None
    import wordllama

    # its tokenizer sits in the package's tokenizers/ folder, found only as a "cache"
    package_dir = Path(wordllama.__file__).parent
    model = WordLlama.load(cache_dir=package_dir, disable_download=True)
    start = time.perf_counter()
    matrix = np.asarray(model.embed([d.text for d in docs], norm=True), dtype=np.float32)
    timings["wordllama_docs_per_s"] = len(docs) / (time.perf_counter() - start)
    deals = np.array([d.metadata.get("deal_id") for d in docs], dtype=object)
    acts = [d.metadata["activity_id"] for d in docs]

    def run(query: str, flt: SearchFilter) -> list[str]:
        q = np.asarray(model.embed([query], norm=True), dtype=np.float32)[0]
        scores = matrix @ q
        if flt.deal_ids is not None:
            scores = np.where(np.isin(deals, list(flt.deal_ids)), scores, -np.inf)
        order = np.argsort(-scores)[: 3 * K]
        return [acts[i] for i in order if np.isfinite(scores[i])]

    return run


def simulate_sync(store: Store) -> tuple[int, int]:
    """Edit 1% of emails, delete 0.5% of tasks (every 100th / 200th by Id)."""
    email, task = CRM_TABLES["EmailMessage"], CRM_TABLES["Task"]
    with store.engine.begin() as conn:
        e_ids = conn.execute(select(email.c.Id).order_by(email.c.Id)).scalars().all()[::100]
        t_ids = conn.execute(select(task.c.Id).order_by(task.c.Id)).scalars().all()[::200]
        for i in e_ids:
            conn.execute(
                update(email).where(email.c.Id == i).values(TextBody="Edited after sync: " + i)
            )
        conn.execute(update(task).where(task.c.Id.in_(t_ids)).values(IsDeleted=True))
    return len(e_ids), len(t_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--per-topic", type=int, default=8, help="deals per question topic")
    args = parser.parse_args()
    result: dict[str, Any] = {"scale": args.scale, "seed": args.seed}
    with tempfile.TemporaryDirectory(prefix="dealcast-rag-bench-") as tmp:
        root = Path(tmp)
        print(f"generating demo org scale {args.scale:g} ...", flush=True)
        generate_demo_org(root / "export", seed=args.seed, scale=args.scale, today=TODAY)
        store = Store.open(f"sqlite:///{root / 'demo.db'}")
        import_export(store, root / "export", actor="bench", as_of=as_of_instant(TODAY))
        docs = list(build_documents(store))
        texts = [d.text for d in docs]
        print(f"{len(docs):,} chunks; indexing ...", flush=True)

        report = update_index(store, path=root / "chroma")
        start = time.perf_counter()
        MiniLmEmbeddingFunction().embedder.embed(texts)  # same threads as the index
        floor_s = time.perf_counter() - start
        noop = update_index(store, path=root / "chroma")
        edited, deleted = simulate_sync(store)
        incr = update_index(store, path=root / "chroma")
        result["throughput"] = {
            "chunks": report.documents,
            "index_s": report.seconds,
            "index_chunks_per_s": round(report.documents / report.seconds, 1),
            "index_embed_s": report.embed_seconds,
            "floor_s": round(floor_s, 2),
            "floor_chunks_per_s": round(len(texts) / floor_s, 1),
            "index_over_floor": round(report.seconds / floor_s, 2),
            "noop_update_s": noop.seconds,
            "sync_edited_emails": edited,
            "sync_deleted_tasks": deleted,
            "incremental_update_s": incr.seconds,
            "incremental_embedded": incr.embedded,
            "incremental_removed": incr.removed,
        }

        questions = golden(list(build_documents(store)), args.per_topic)
        retriever = open_retriever(store, path=root / "chroma", update=False)
        timings: dict[str, float] = {}
        methods: dict[str, Search | None] = {
            "minilm_dense": retriever_search(retriever, "dense"),
            "wordllama_dense": wordllama_search(list(build_documents(store)), timings),
            "bm25": retriever_search(retriever, "lexical"),
            "hybrid_minilm_bm25": retriever_search(retriever, "hybrid"),
        }
        recall: dict[str, Any] = {}
        for name, search in methods.items():
            if search is None:
                continue
            start = time.perf_counter()
            recall[name] = recall_at_k(search, questions)
            recall[name]["ms_per_query"] = round(
                1000 * (time.perf_counter() - start) / len(questions), 1
            )
        result["questions"] = len(questions)
        result["recall_at_5"] = recall
        result["throughput"].update({k: round(v, 1) for k, v in timings.items()})
        store.close()

    _print(result)
    OUT.mkdir(exist_ok=True)
    (OUT / "rag.json").write_text(json.dumps(result, indent=2))


def _print(result: dict[str, Any]) -> None:
    t = result["throughput"]
    print(
        f"\nindex: {t['chunks']:,} chunks in {t['index_s']:.1f}s = {t['index_chunks_per_s']}/s; "
        f"floor (bare MiniLM embedding) {t['floor_chunks_per_s']}/s; "
        f"index/floor time ratio {t['index_over_floor']} "
        f"(of the index time, {t['index_embed_s']:.1f}s was embedding)"
    )
    print(
        f"no-op update {t['noop_update_s']:.2f}s; after a sync editing {t['sync_edited_emails']} "
        f"emails and deleting {t['sync_deleted_tasks']} tasks: {t['incremental_update_s']:.2f}s, "
        f"{t['incremental_embedded']} embedded, {t['incremental_removed']} removed"
    )
    if "wordllama_docs_per_s" in t:
        print(f"wordllama embedding: {t['wordllama_docs_per_s']:,.0f} chunks/s")
    recall = result["recall_at_5"]
    groups = sorted({g for r in recall.values() for g in r} - {"mean", "ms_per_query"})
    cols = [*groups, "mean", "ms_per_query"]
    print(f"\nrecall@5 over {result['questions']} questions")
    print(f"{'method':<20}" + "".join(f"{c[:13]:>14}" for c in cols))
    for name, row in recall.items():
        print(f"{name:<20}" + "".join(f"{row.get(c, float('nan')):>14}" for c in cols))


if __name__ == "__main__":
    main()
