"""Hybrid search over deal activity: dense (Chroma) + lexical (BM25), fused by reciprocal
rank fusion. Filters apply inside both branches. In hybrid mode BM25 is asked only about the
query's exact terms (numbers, names, words the embedding model does not know; see
`lexical`); a query without any is answered by the dense branch alone.

Scores: hybrid = fused RRF score; dense = cosine similarity; lexical = BM25. Higher is
better in every mode. Passage text is untrusted CRM text, returned verbatim: callers must
treat it as data, never as instructions.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from dealcast.crm.store import Store
from dealcast.rag import filters
from dealcast.rag.embeddings import MiniLmEmbeddingFunction
from dealcast.rag.index import (
    READ_PAGE,
    chroma_client,
    index_version,
    open_collection,
    update_index,
)
from dealcast.rag.lexical import LexicalIndex, exact_terms

MODES = ("hybrid", "dense", "lexical")
RRF_K = 60  # the usual constant: rank 1 scores 1/61, so neither branch dominates
_EPOCH = datetime(1970, 1, 1)
_CACHE_SIZE = 4  # collections whose BM25 side is kept in memory (one per store, usually)


@dataclass(frozen=True)
class Passage:
    doc_id: str
    activity_id: str
    deal_id: str | None
    account_id: str | None
    owner_id: str | None
    kind: str
    direction: str | None
    contact_id: str | None
    contact_name: str | None
    contact_title: str | None
    contact_role: str | None
    date: datetime
    subject: str | None
    text: str
    score: float

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["date"] = self.date.isoformat()
        return out


@dataclass(frozen=True)
class SearchFilter:
    deal_ids: Sequence[str] | None = None
    account_ids: Sequence[str] | None = None
    owner_ids: Sequence[str] | None = None
    kinds: Sequence[str] | None = None
    direction: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _passage(
    doc_id: str, text: str, meta: dict[str, Any], score: float, flt: SearchFilter
) -> Passage:
    role = meta.get("contact_role")
    if role and flt.until is not None and int(meta.get("role_ts", 0)) > filters.epoch(flt.until):
        role = None  # the role was recorded after the as-of instant
    return Passage(
        doc_id=doc_id,
        activity_id=str(meta["activity_id"]),
        deal_id=meta.get("deal_id"),
        account_id=meta.get("account_id"),
        owner_id=meta.get("owner_id"),
        kind=str(meta["kind"]),
        direction=meta.get("direction"),
        contact_id=meta.get("contact_id"),
        contact_name=meta.get("contact_name"),
        contact_title=meta.get("contact_title"),
        contact_role=role,
        date=_EPOCH + timedelta(seconds=int(meta["ts"])),
        subject=meta.get("subject"),
        text=text,
        score=float(score),
    )


@dataclass
class _LexicalCache:
    version: str
    index: LexicalIndex
    texts: list[str]
    metadatas: list[dict[str, Any]]
    columns: dict[str, np.ndarray]


class Retriever:
    """Search one store's index. Cheap to keep: the BM25 side is rebuilt only when the
    collection's index version changes (another process may update it)."""

    def __init__(self, collection: Any, client: Any = None, candidates: int = 50) -> None:
        self.collection = collection
        self.client = client
        self.candidates = candidates

    def search(
        self, query: str, flt: SearchFilter | None = None, k: int = 8, *, mode: str = "hybrid"
    ) -> list[Passage]:
        if mode not in MODES:
            raise ValueError(f"unknown search mode {mode!r}; valid modes: {', '.join(MODES)}")
        if k < 1:
            raise ValueError("k must be at least 1")
        flt = flt or SearchFilter()
        if flt.direction not in (None, "inbound", "outbound"):
            raise ValueError("direction must be 'inbound', 'outbound' or None")
        if not query.strip() or filters.matches_nothing(flt):
            return []
        if mode == "dense":
            return self._dense(query, flt, k)
        if mode == "lexical":
            return self._lexical_search(query, flt, k)
        pool = max(self.candidates, 4 * k)
        dense = self._dense(query, flt, pool)
        terms = exact_terms(query)
        lexical = self._lexical_search(query, flt, pool, must_match=terms) if terms else []
        return _fuse(dense, lexical, k)

    # ---- branches ------------------------------------------------------------------
    def _dense(self, query: str, flt: SearchFilter, n: int) -> list[Passage]:
        col = self._current()
        if col.count() == 0:
            return []
        res = col.query(
            query_texts=[query],
            n_results=n,
            where=filters.where_clause(flt),
            include=["documents", "metadatas", "distances"],
        )
        rows = zip(
            res["ids"][0],
            res["documents"][0],
            res["metadatas"][0],
            res["distances"][0],
            strict=True,
        )
        return [_passage(i, doc, dict(meta), 1.0 - dist, flt) for i, doc, meta, dist in rows]

    def _lexical_search(
        self, query: str, flt: SearchFilter, n: int, *, must_match: set[str] | None = None
    ) -> list[Passage]:
        cache = self._lexical_cache()
        allowed = filters.mask(flt, cache.columns, len(cache.index))
        hits = cache.index.search(query, allowed, n, must_match=must_match)
        return [
            _passage(cache.index.ids[row], cache.texts[row], cache.metadatas[row], score, flt)
            for row, score in hits
        ]

    def _current(self) -> Any:
        """The collection as stored now (its metadata carries the index version)."""
        if self.client is None:
            return self.collection
        self.collection = self.client.get_collection(
            self.collection.name,
            embedding_function=MiniLmEmbeddingFunction(),
        )
        return self.collection

    def _lexical_cache(self) -> _LexicalCache:
        col = self._current()
        key, version = str(col.id), index_version(col)
        with _LOCK:
            cached = _LEXICAL.get(key)
            if cached is None or cached.version != version:
                cached = _build_lexical(col, version)
                _LEXICAL.pop(key, None)
                while len(_LEXICAL) >= _CACHE_SIZE:
                    _LEXICAL.pop(next(iter(_LEXICAL)))
                _LEXICAL[key] = cached
            return cached


# BM25 sides by collection id, shared by every Retriever in the process (servers make one
# per request): rebuilding reads every chunk back from Chroma.
_LEXICAL: dict[str, _LexicalCache] = {}
_LOCK = threading.Lock()


def _build_lexical(col: Any, version: str) -> _LexicalCache:
    ids: list[str] = []
    texts: list[str] = []
    metas: list[dict[str, Any]] = []
    offset = 0
    while True:
        page = col.get(include=["documents", "metadatas"], limit=READ_PAGE, offset=offset)
        ids += page["ids"]
        texts += page["documents"]
        metas += [dict(m) for m in page["metadatas"]]
        if len(page["ids"]) < READ_PAGE:
            break
        offset += READ_PAGE
    return _LexicalCache(version, LexicalIndex(ids, texts), texts, metas, filters.columns_of(metas))


def _fuse(dense: list[Passage], lexical: list[Passage], k: int) -> list[Passage]:
    """Reciprocal rank fusion; ties broken by doc id so results are reproducible."""
    fused: dict[str, float] = {}
    found: dict[str, Passage] = {}
    for ranked in (dense, lexical):
        for rank, p in enumerate(ranked):
            fused[p.doc_id] = fused.get(p.doc_id, 0.0) + 1.0 / (RRF_K + rank + 1)
            found.setdefault(p.doc_id, p)
    order = sorted(fused, key=lambda d: (-fused[d], d))[:k]
    return [replace(found[d], score=fused[d]) for d in order]


def open_retriever(
    store: Store, *, path: Path | None = None, client: Any | None = None, update: bool = True
) -> Retriever:
    """Open (or create) this store's index, bring it up to date when `update`, and return a
    retriever over it."""
    client = client if client is not None else chroma_client(path)
    col = open_collection(store, client=client)
    if update:
        update_index(store, col)
    return Retriever(col, client=client)
