"""Claim-level grounding: every claim of an answer must be supported by a cited passage or
by a tool output; unsupported claims are removed (or flagged).

A claim is a line of the answer, or a sentence of a longer line. It cites the passages whose
activity ids it contains. What is checked:
- quoted text ("...") must appear, word for word, in a cited passage;
- every number, date (YYYY-MM-DD) and name (a capitalised word not opening the sentence,
  or an acronym such as CFO) must appear in a cited passage (its text, subject, date, contact
  name or title), in a tool output, or in the question itself;
- lines of a passage that look like prompt injection (`sanitizer.injection_markers`)
  support nothing;
- a cited id that was not retrieved is an invented citation: unsupported;
- a claim citing nothing is supported only if a tool output holds it (a risk message, a
  score factor) or it is a plain "nothing found" remark; a cited claim with nothing
  checkable must share at least `MIN_OVERLAP` of its content words with its passages.
Lines ending with ":" (headings) are not claims.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dealcast.graph.traceability import facts
from dealcast.rag.grading import STOPWORDS, words
from dealcast.safety.sanitizer import injection_markers

MIN_OVERLAP = 0.3
FLAG = " [unsupported]"
_QUOTE = re.compile(r"\"([^\"]{3,})\"|“([^”]{3,})”")
_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
_ID = re.compile(r"\b[0-9A-Za-z]{15}(?:[0-9A-Za-z]{3})?\b")
_NUMBER = re.compile(r"(?<![\w.])[-+]?\$?\d+(?:[.,]\d+)*\s?[KMB%]?(?![\w])")
_NAME = re.compile(r"\b[A-Z][A-Za-z'’-]+\b|\b[A-Z]{2,}\b")
_CITE_TAG = re.compile(r"\[[A-Za-z0-9 ,]+\]")
_NOTHING = re.compile(
    r"^(no|none|nothing|i (found|could not|couldn't|did not|didn't))\b"
    r"|\b(do|does|did) not (say|mention|answer|cover)\b",
    re.IGNORECASE,
)
_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_COMMON_CAPS = (
    "I The A An And But Or So If When While This That These Those It Its They Their There "
    "He She We Our You Your Also No Not Yes Risk Risks Evidence Score Quote Quotes Email "
    "Emails Call Calls Meeting Meetings Task Tasks Note Notes Rep Inbound Outbound Subject "
    "Deal Deals On In At For From With By Of To As Per Win Why What Which Who How Based "
    "Overall However Key Top Summary Sources Source Regarding About"
)
COMMON_CAPS = frozenset(_COMMON_CAPS.split())


@dataclass
class Claim:
    text: str
    cites: list[str] = field(default_factory=list)
    supported: bool = True
    problems: list[str] = field(default_factory=list)


@dataclass
class Grounded:
    text: str  # the answer with unsupported claims removed (or flagged)
    claims: list[Claim]

    @property
    def rate(self) -> float:
        """Share of claims supported (1.0 for an answer without claims)."""
        return sum(c.supported for c in self.claims) / len(self.claims) if self.claims else 1.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "claims": len(self.claims),
            "supported": sum(c.supported for c in self.claims),
            "rate": round(self.rate, 4),
            "unsupported": [
                {"claim": c.text, "problems": c.problems} for c in self.claims if not c.supported
            ],
        }


def _norm(text: str) -> str:
    return " ".join(text.replace("’", "'").replace("“", '"').replace("”", '"').split()).casefold()


def _support_text(p: Mapping[str, Any]) -> str:
    """What a passage can vouch for; lines that look like prompt injection vouch for
    nothing (an email saying "set the probability to 99%" must not ground "99%")."""
    lines = str(p.get("text") or "").split("\n")
    flagged = set(injection_markers(str(p.get("text") or "")))
    text = "\n".join(line for i, line in enumerate(lines) if i not in flagged)
    parts = [p.get("subject"), text, *(p.get(k) for k in ("contact_name", "contact_title", "kind"))]
    parts.append(str(p.get("date") or "")[:10])
    return _norm("\n".join(str(x) for x in parts if x))


def split_claims(answer: str) -> list[str]:
    out: list[str] = []
    for line in answer.splitlines():
        line = line.strip()
        if not line or line.endswith(":"):
            continue
        # a quoted sentence stays whole: split only lines without quotes
        out.extend([line] if _QUOTE.search(line) else [s for s in _SPLIT.split(line) if s])
    return out


def _number_ok(token: str, text: str, numbers: Sequence[float]) -> bool:
    if _norm(token) in text:
        return True
    raw = token.replace("$", "").replace(",", "").replace("%", "").strip()
    scale = {"K": 1e3, "M": 1e6, "B": 1e9}.get(raw[-1:], 1.0)
    raw = raw.rstrip("KMB ").lstrip("+-")
    try:
        value = float(raw)
    except ValueError:
        return False
    decimals = len(raw.split(".")[1]) if "." in raw else 0
    tol = 0.5 * 10 ** (-decimals) + 1e-9
    return any(
        abs(n / scale - value) <= tol or ("%" in token and abs(n * 100 - value) <= tol)
        for n in numbers
    )


def check_claim(
    claim: str,
    passages: Mapping[str, Mapping[str, Any]],
    tool_text: str,
    tool_numbers: Sequence[float],
    question: str,
) -> Claim:
    ids = {m.group(0) for m in _ID.finditer(claim) if re.search(r"\d", m.group(0))}
    cites = [i for i in passages if i in claim]
    c = Claim(claim, cites)
    invented = [i for i in ids if i not in passages and i not in tool_text]
    if invented:
        c.problems.append(f"cites unknown id(s) {', '.join(sorted(invented))}")
    cited = "\n".join(_support_text(passages[i]) for i in cites)
    allowed = cited + "\n" + tool_text + "\n" + _norm(question)
    body = claim
    for i in cites:
        body = body.replace(i, " ")
    for m in _QUOTE.finditer(claim):
        quoted = _norm(m.group(1) or m.group(2))
        if quoted not in cited and quoted not in tool_text:
            c.problems.append(f"quote not in a cited passage: {quoted[:60]!r}")
        body = body.replace(m.group(0), " ")
    checkable = bool(_QUOTE.search(claim))
    for d in _DATE.findall(body):
        checkable = True
        if d not in allowed:
            c.problems.append(f"date {d} not in a cited passage")
    body = _DATE.sub(" ", _CITE_TAG.sub(" ", body))
    for token in (t.strip() for t in _NUMBER.findall(body)):
        checkable = True
        if not _number_ok(token, allowed, tool_numbers):
            c.problems.append(f"number {token} not in a cited passage or tool output")
    first = True
    for m in _NAME.finditer(body):
        word = m.group(0)
        opens = first and not body[: m.start()].strip(" -*•\t")
        first = False
        if opens or word in COMMON_CAPS:
            continue
        checkable = True
        if _norm(word) not in allowed:
            c.problems.append(f"name {word} not in a cited passage or tool output")
    if not cites and not c.problems:
        plain = _norm(_CITE_TAG.sub(" ", claim).strip(" -*•"))
        if not (plain and plain in tool_text) and not _NOTHING.search(plain):
            c.problems.append("no cited passage or tool output supports it")
    elif cites and not checkable and not c.problems:
        content = [w for w in words(body) if w not in STOPWORDS and len(w) > 2]
        found = sum(w in cited for w in content)
        if content and found / len(content) < MIN_OVERLAP:
            c.problems.append("its words are not in the cited passages")
    c.supported = not c.problems
    return c


def ground(
    answer: str,
    passages: Iterable[Mapping[str, Any]],
    tool_outputs: Sequence[Any] = (),
    *,
    question: str = "",
    mode: str = "remove",
) -> Grounded:
    """Check every claim of `answer`; unsupported ones are removed (`mode="remove"`) or
    marked with `FLAG` (`mode="flag"`)."""
    if mode not in ("remove", "flag"):
        raise ValueError(f"mode must be 'remove' or 'flag', got {mode!r}")
    by_id = {str(p["activity_id"]): p for p in passages if p.get("activity_id")}
    strings, numbers, _ = facts(tool_outputs)  # the evaluator's reading of tool outputs
    tool_text = _norm("\n".join(strings))
    claims = [check_claim(c, by_id, tool_text, numbers, question) for c in split_claims(answer)]
    bad = {c.text for c in claims if not c.supported}
    kept = []
    for line in answer.splitlines():
        stripped = line.strip()
        parts = split_claims(stripped)
        if not parts or not any(p in bad for p in parts):
            kept.append(line)
            continue
        good = [p if p not in bad else (p + FLAG if mode == "flag" else "") for p in parts]
        joined = " ".join(g for g in good if g)
        if joined:
            kept.append(line[: len(line) - len(line.lstrip())] + joined)
    return Grounded("\n".join(kept).strip(), claims)
