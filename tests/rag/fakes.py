"""A small in-memory retriever with the contract of `dealcast.rag.retriever` (filters by
deal, owner, kind and the as-of cut; scores by shared words), for unit tests that must not
depend on the real index."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class FakePassage:
    activity_id: str
    deal_id: str | None
    text: str
    date: datetime
    kind: str = "email"
    direction: str | None = "inbound"
    owner_id: str | None = "005U1"
    account_id: str | None = None
    contact_id: str | None = None
    contact_name: str | None = None
    contact_title: str | None = None
    contact_role: str | None = None
    subject: str | None = None
    score: float = 0.0

    @property
    def doc_id(self) -> str:
        return self.activity_id

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"doc_id": self.doc_id, "date": self.date.isoformat()}


@dataclass(frozen=True)
class FakeFilter:
    deal_ids: list[str] | None = None
    owner_ids: list[str] | None = None
    kinds: list[str] | None = None
    until: datetime | None = None


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


@dataclass
class FakeRetriever:
    passages: list[FakePassage]
    calls: list[tuple[str, FakeFilter | None]] = field(default_factory=list)

    def search(
        self, query: str, flt: FakeFilter | None = None, k: int = 8, *, mode: str = "hybrid"
    ) -> list[FakePassage]:
        self.calls.append((query, flt))
        flt = flt or FakeFilter()
        q = _words(query)
        hits = []
        for p in self.passages:
            if flt.deal_ids is not None and p.deal_id not in flt.deal_ids:
                continue
            if flt.owner_ids is not None and p.owner_id not in flt.owner_ids:
                continue
            if flt.kinds is not None and p.kind not in flt.kinds:
                continue
            if flt.until is not None and p.date > flt.until:
                continue
            score = len(q & _words(f"{p.subject or ''} {p.text}"))
            if score:
                hits.append((score, p))
        hits.sort(key=lambda t: (-t[0], t[1].activity_id))
        return [p for _, p in hits[:k]]
