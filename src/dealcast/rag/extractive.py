"""Answers without an LLM: the most relevant sentences of the retrieved passages, quoted
verbatim with their date, source (kind and activity id) and who said them.

Sentences come from the body only: greetings, sign-offs and signatures (lines with an email
address or phone number) are dropped, and so is any sentence the sanitizer marks as a
prompt-injection attempt: it is never quoted, let alone obeyed. A sentence's score is the
share of the question's concepts it mentions (`grading`), plus the passage's title bonus.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from dealcast.rag.grading import CONCEPTS, Query, mentions, words
from dealcast.safety.sanitizer import injection_markers

MAX_QUOTES = 5
MAX_QUOTE_CHARS = 300
_CONTACT_LINE = re.compile(r"@|\+?\d[\d ().-]{7,}\d|\|")
_SIGNOFF = re.compile(r"^(best|thanks|cheers|regards|best regards|many thanks|thank you)\W*$", re.I)
_GREETING = re.compile(r"^(hi|hello|hey|dear|good morning|afternoon)\b[^.!?]*[,-]\s*$", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def body_lines(text: str) -> list[str]:
    """Lines of a passage that carry content (no greeting, sign-off or signature)."""
    out = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("--") or _CONTACT_LINE.search(line):
            continue
        if _SIGNOFF.match(line) or _GREETING.match(line) or line.endswith(","):
            continue
        if len(line.split()) <= 3 and not re.search(r"[.!?:]$", line):
            continue  # a name, title or company line of a signature
        if line.lower().startswith(("sent from my", "contact details", "attendees:")):
            line = line.split(".", 1)[1].strip() if "." in line else ""
            if not line:
                continue
        out.append(line)
    return out


def sentences(text: str) -> list[str]:
    """Content sentences of `text`, injection attempts left out."""
    out = []
    for line in body_lines(text):
        for s in _SENTENCE.split(line):
            s = s.strip()
            if len(s) >= 12 and not injection_markers(s):
                out.append(s[:MAX_QUOTE_CHARS])
    return out


def who(p: Mapping[str, Any]) -> str:
    """Who is speaking: the contact (name, title) or the rep for outbound mail and notes."""
    name, title = p.get("contact_name"), p.get("contact_title")
    if name and p.get("direction") != "outbound":
        return f"{name} ({title})" if title else str(name)
    if p.get("direction") == "outbound":
        return f"rep, to {name}" if name else "rep"
    return "rep notes" + (f" with {name}" if name else "")


def sentence_score(query: Query, sentence: str, p: Mapping[str, Any]) -> float:
    """Weighted share of the query's concepts in the sentence (a topic concept such as
    "budget" weighs twice a plain word); 0 when the query has topic concepts and the
    sentence mentions none of them ("reviewed the proposal" does not answer "security
    review")."""
    if not query.concepts:
        return 0.5
    low = sentence.lower()
    bag = set(words(low))
    weight = {c: 2.0 if c in CONCEPTS else 1.0 for c in query.concepts}
    hit = {c for c in query.concepts if mentions(c, bag, low)}
    if any(c in CONCEPTS for c in query.concepts) and not any(c in CONCEPTS for c in hit):
        return 0.0
    share = sum(weight[c] for c in hit) / sum(weight.values())
    title = set(words(str(p.get("contact_title") or "")))
    if share and query.titles and title & set(query.titles):
        share += 0.25
    return share


def select_quotes(
    query: Query,
    passages: Sequence[Mapping[str, Any]],
    *,
    max_quotes: int = MAX_QUOTES,
    per_passage: int = 2,
    per_deal: int | None = None,
) -> list[dict[str, Any]]:
    """The best sentences (score > 0), best first, at most `per_passage` from one passage
    and `per_deal` from one deal; ties go to the better-ranked passage. A question about
    what someone said prefers the buyer's words (inbound mail, call and meeting notes) and,
    when it names a title ("the CFO"), that contact's: others only when none qualify."""
    pools = [passages]
    if query.heard:
        pools.insert(0, [p for p in passages if p.get("direction") != "outbound"])
    if query.titles:
        titled = [
            p for p in pools[0] if set(words(str(p.get("contact_title") or ""))) & set(query.titles)
        ]
        pools.insert(0, titled)
    for pool in pools:
        found = _select(query, pool, max_quotes, per_passage, per_deal)
        if found:
            return found
    return []


def _select(
    query: Query,
    passages: Sequence[Mapping[str, Any]],
    max_quotes: int,
    per_passage: int,
    per_deal: int | None,
) -> list[dict[str, Any]]:
    scored: list[tuple[float, int, int, str]] = []
    for rank, p in enumerate(passages):
        for pos, s in enumerate(sentences(str(p.get("text") or ""))):
            score = sentence_score(query, s, p)
            if score > 0:
                scored.append((score, rank, pos, s))
    scored.sort(key=lambda t: (-t[0], t[1], t[2]))
    quotes: list[dict[str, Any]] = []
    used: dict[int, int] = {}
    deals: dict[str, int] = {}
    for score, rank, _pos, s in scored:
        p = passages[rank]
        deal = str(p.get("deal_id") or "")
        if used.get(rank, 0) >= per_passage:
            continue
        if per_deal is not None and deals.get(deal, 0) >= per_deal:
            continue
        used[rank] = used.get(rank, 0) + 1
        deals[deal] = deals.get(deal, 0) + 1
        quotes.append(quote_record(p, s, score))
        if len(quotes) >= max_quotes:
            break
    return quotes


def quote_record(p: Mapping[str, Any], sentence: str, score: float) -> dict[str, Any]:
    return {
        "activity_id": p.get("activity_id"),
        "kind": p.get("kind"),
        "date": str(p.get("date") or "")[:10],
        "who": who(p),
        "contact_title": p.get("contact_title"),
        "deal_id": p.get("deal_id"),
        "subject": p.get("subject"),
        "quote": sentence,
        "score": round(score, 4),
    }


def quote_line(q: Mapping[str, Any]) -> str:
    """One cited claim: the sentence in quotes, then who, source and date."""
    return f'"{q["quote"]}" ({q["who"]}, {q["kind"]} {q["activity_id"]}, {q["date"]})'
