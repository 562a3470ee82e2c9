"""Relevance grading and query rewriting for the agentic retrieval loop.

Without an LLM: a question is reduced to its *concepts* (content words; a sales-topic word
such as "budget" or "price" stands for its whole family of synonyms, `CONCEPTS`); a passage's
grade is the share of concepts it mentions (text, subject or the contact's title). Evidence
is weak when fewer than `MIN_RELEVANT` passages reach `RELEVANT`; the rewrite then widens the
query with the synonyms of its concepts (attempt 1) or keeps only the concepts (attempt 2).

With an LLM (`ask` given): the same steps, asked of the model, with the passages placed in
the prompt as untrusted data (`prompts.rag`); any failure falls back to the rules. The model
only ever returns passage numbers or a search string: it cannot change filters or tools.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dealcast.prompts.rag import (
    ANSWER_SYSTEM,
    ANSWER_USER,
    GRADE_SYSTEM,
    GRADE_USER,
    REWRITE_SYSTEM,
    REWRITE_USER,
    passage_label,
    passages_block,
    plain,
)

RELEVANT = 0.5  # share of the question's concepts a passage must mention
MIN_RELEVANT = 2  # fewer relevant passages than this is weak evidence
MAX_QUERY_CHARS = 200

# a question word -> the words that count as the same concept in CRM text
CONCEPTS: dict[str, tuple[str, ...]] = {
    "budget": ("budget", "funding", "spend", "spending", "freeze", "frozen"),
    "price": ("price", "pricing", "discount", "expensive", "cost", "cheaper"),
    "competitor": ("competitor", "evaluating", "alternatives", "comparison", "compare"),
    "security": ("security", "infosec", "soc", "questionnaire", "pen"),
    "legal": ("legal", "contract", "msa", "redlines", "dpa", "counsel"),
    "procurement": ("procurement", "supplier", "vendor", "onboarding", "payment"),
    "timeline": ("timeline", "hold", "priorities", "delay", "revisit", "timing"),
    "silence": ("voicemail", "heard", "following", "response", "reply"),
    "decision": ("decision", "executive", "sign", "sponsor", "final", "leadership"),
    "won": ("signed", "docusign", "order", "onboarding"),
    "lost": ("decided", "proceeding", "shelved", "pause", "chose"),
}
SYNONYMS: dict[str, str] = {
    "budgets": "budget", "funding": "budget", "funds": "budget", "money": "budget",
    "spend": "budget", "spending": "budget", "freeze": "budget", "frozen": "budget",
    "pricing": "price", "prices": "price", "discount": "price", "discounts": "price",
    "cost": "price", "costs": "price", "expensive": "price", "cheaper": "price",
    "competitors": "competitor", "competition": "competitor", "competitive": "competitor",
    "alternative": "competitor", "alternatives": "competitor", "rival": "competitor",
    "infosec": "security", "soc": "security", "contract": "legal", "contracts": "legal",
    "msa": "legal", "redlines": "legal", "vendor": "procurement", "delay": "timeline",
    "delayed": "timeline", "stalled": "timeline", "stall": "timeline", "hold": "timeline",
    "ghosting": "silence", "silent": "silence", "unresponsive": "silence", "ghosted": "silence",
    "signed": "won", "signature": "won", "lose": "lost", "losing": "lost",
}  # fmt: skip
_STOPWORDS = (
    "a an and are as at be been but by can could did do does for from had has have he her his "
    "how i in into is it its me my of on or our out over said say says she so tell than that "
    "the their them then there these they this those to told up us was we were what when "
    "where which who whom why will with would you your about any anything all deal deals "
    "opportunity opportunities opps opp mention mentions mentioned mentioning talk talked "
    "discuss discussed think thought show list find give email emails call calls meeting "
    "meetings note notes risk risks at-risk please does someone anyone stand status where "
    "looking look buyer"
)
STOPWORDS = frozenset(_STOPWORDS.split())
_TITLE_WORDS = (
    "cfo ceo coo cto cio cro vp svp director head manager controller counsel lead "
    "procurement finance legal security it engineering"
)
TITLE_WORDS = frozenset(_TITLE_WORDS.split())

Ask = Callable[[str, str], str]  # (system, user) -> the model's text; raises AskFailed


class AskFailed(Exception):
    """The LLM could not answer this step (the caller falls back to the rules)."""


@dataclass(frozen=True)
class Query:
    concepts: tuple[str, ...]  # concept keys (CONCEPTS) or plain content words
    titles: tuple[str, ...]  # title words the question names ("cfo")
    heard: bool = False  # asks what the buyer said ("what did they say"): their words first


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("’", "'").replace("'s ", " "))


def parse_query(text: str, drop: Sequence[str] = ()) -> Query:
    """The concepts and title words of `text`; words in `drop` (deal names) are ignored."""
    skip = {w.lower() for w in drop}
    concepts: list[str] = []
    titles: list[str] = []
    for w in words(text):
        if w in STOPWORDS or w in skip or len(w) < 2:
            continue
        if w in TITLE_WORDS and w not in CONCEPTS:
            titles.append(w)
            if w in ("cfo", "finance"):  # a finance person is asked about money
                continue
            if w not in ("procurement", "legal", "security"):
                continue
        concepts.append(SYNONYMS.get(w, w))
    heard = bool(re.search(r"\b(say|said|says|tell|told|mention\w*|think|thought)\b", text.lower()))
    return Query(tuple(dict.fromkeys(concepts)), tuple(dict.fromkeys(titles)), heard)


def concept_words(concept: str) -> tuple[str, ...]:
    return CONCEPTS.get(concept, (concept,))


def mentions(concept: str, bag: set[str], text: str) -> bool:
    forms = concept_words(concept)
    if any(f in bag for f in forms):
        return True
    # a plain word may be a stem of the passage's word ("evaluat" ~ "evaluating")
    return concept not in CONCEPTS and len(concept) >= 5 and concept in text


def passage_text(p: Mapping[str, Any]) -> str:
    return f"{p.get('subject') or ''}\n{p.get('text') or ''}"


def grade(query: Query, p: Mapping[str, Any]) -> float:
    """Share of the query's concepts the passage mentions (1.0 when the query has none);
    a named title ("CFO") adds a quarter when the passage's contact holds it."""
    text = passage_text(p).lower()
    bag = set(words(text))
    if not query.concepts:
        base = 1.0
    else:
        base = sum(mentions(c, bag, text) for c in query.concepts) / len(query.concepts)
    title = str(p.get("contact_title") or "").lower()
    if query.titles and any(t in words(title) for t in query.titles):
        base = min(1.0, base + 0.25)
    return round(base, 4)


def is_weak(grades: Sequence[float]) -> bool:
    return sum(g >= RELEVANT for g in grades) < MIN_RELEVANT


def rewrite(question: str, query: Query, attempt: int) -> str:
    """The rules' next search string (attempt 1: concepts with synonyms; 2+: concepts only)."""
    if attempt <= 1:
        terms = [w for c in query.concepts for w in concept_words(c)]
        terms += list(query.titles)
        return " ".join(dict.fromkeys(terms)) or question
    return " ".join(query.concepts) or question


# ---- LLM versions (`ask` bridges to the graph's ChatOpenAI; see graph.nodes.evidence) ----


def llm_grade(ask: Ask, question: str, passages: Sequence[Mapping[str, Any]]) -> list[float]:
    """1.0 for the passages the model calls relevant, 0.0 otherwise (AskFailed when its
    reply is not a JSON list of passage numbers)."""
    user = GRADE_USER.format(question=plain(question), passages=passages_block(passages))
    reply = ask(GRADE_SYSTEM, user)
    match = re.search(r"\[[\d,\s]*\]", reply)
    if match is None:
        raise AskFailed("grading reply without a list of passage numbers")
    try:
        picked = {int(i) for i in json.loads(match.group(0))}
    except (ValueError, TypeError) as exc:
        raise AskFailed(f"grading reply not understood: {exc}") from exc
    return [1.0 if i + 1 in picked else 0.0 for i in range(len(passages))]


def llm_rewrite(ask: Ask, question: str, tried: Sequence[str]) -> str:
    """A new search string from the model: one line, letters/digits/spaces only."""
    user = REWRITE_USER.format(
        question=plain(question), tried="\n".join(f"- {plain(t)}" for t in tried)
    )
    reply = ask(REWRITE_SYSTEM, user).strip().splitlines()
    line = re.sub(r"[^\w\s%$.-]", " ", reply[0] if reply else "")
    line = re.sub(r"\s+", " ", line).strip()[:MAX_QUERY_CHARS]
    if not line:
        raise AskFailed("empty rewrite")
    return line


def llm_answer(ask: Ask, question: str, passages: Sequence[Mapping[str, Any]]) -> str:
    """The model's cited answer, its [Pn] labels replaced by the passages' activity ids
    (the grounding check then verifies every claim against those passages)."""
    user = ANSWER_USER.format(question=plain(question), passages=passages_block(passages))
    text = ask(ANSWER_SYSTEM, user).strip()
    if not text:
        raise AskFailed("empty answer")
    ids = {passage_label(i): str(p.get("activity_id")) for i, p in enumerate(passages)}
    return re.sub(r"\[(P\d+)\]", lambda m: f"[{ids.get(m.group(1), m.group(1))}]", text)
