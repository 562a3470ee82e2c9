"""Resolve deals (by Id or fuzzy account/opportunity name) and reps (by name) in a request.

Deals: an opportunity Id (15 or 18 characters, prefix 006) wins outright. Otherwise the
distinctive words of each account name (those in at most two accounts, e.g. "Redwoodport"
but not "Engineering") are matched against the request's words, exactly or with a
difflib ratio >= FUZZY (typos); the full opportunity name anywhere in the request is the
strongest match; words of the opportunity name beyond its account ("Analytics", "FY26",
"500 seats") break ties between an account's deals. Deals tied at the top score within one
account make the match ambiguous: the planner then asks which one, listing the candidates.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

from dealcast.graph.planning.text import normalise, words

FUZZY = 0.85
MIN_TOKEN = 4  # shorter words are never matched fuzzily
ID_RE = re.compile(r"\b006[A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?\b")
GENERIC = frozenset(
    (
        "the",
        "and",
        "of",
        "for",
        "inc",
        "llc",
        "ltd",
        "co",
        "corp",
        "group",
        "new",
        "business",
        "deal",
        "seats",
        "edition",
        "team",
        "fy",
    )
)


@dataclass
class DealMatch:
    ids: list[str] = field(default_factory=list)  # resolved deals
    candidates: list[str] = field(default_factory=list)  # when ambiguous
    phrase: str = ""

    @property
    def ambiguous(self) -> bool:
        return bool(self.candidates)


@lru_cache(maxsize=65_536)
def _similar(a: str, b: str) -> float:
    """difflib's ratio when it can reach FUZZY, else 0.0 (callers only compare with FUZZY).
    Every turn compares the request's words with every open deal's account words, so the
    cheap upper bounds go first and pairs are memoised across turns."""
    if a == b:
        return 1.0
    la, lb = len(a), len(b)
    if la < MIN_TOKEN or lb < MIN_TOKEN or 2 * min(la, lb) / (la + lb) < FUZZY:
        return 0.0
    matcher = SequenceMatcher(None, a, b)
    if matcher.real_quick_ratio() < FUZZY or matcher.quick_ratio() < FUZZY:
        return 0.0
    return matcher.ratio()


class DealIndex:
    """Precomputed tokens of the open deals of a directory."""

    def __init__(self, deals: Sequence[Mapping[str, Any]]) -> None:
        self.deals = {str(d["id"]): d for d in deals}
        account_df: Counter[str] = Counter()
        accounts = {str(d["account"]) for d in deals if d.get("account")}
        for account in accounts:
            account_df.update(set(words(account)))
        self.brand: dict[str, list[str]] = {}
        self.extra: dict[str, set[str]] = {}
        self.full: dict[str, str] = {}
        for deal_id, d in self.deals.items():
            acct = [w for w in words(str(d.get("account") or "")) if w not in GENERIC]
            self.brand[deal_id] = [w for w in acct if account_df[w] <= 2 and len(w) >= 3]
            self.extra[deal_id] = {
                w for w in words(str(d["name"])) if w not in acct and w not in GENERIC
            }
            self.full[deal_id] = normalise(str(d["name"]))

    def match(self, text: str, exclude: Sequence[str] = ()) -> DealMatch:
        """Deals `text` names (words in `exclude`, e.g. rep names, are ignored)."""
        by_id = {i.lower(): i for i in self.deals}
        ids = [by_id[m.lower()] for m in ID_RE.findall(text) if m.lower() in by_id]
        ids += [
            i
            for m in ID_RE.findall(text)
            if len(m) == 15
            for i in self.deals
            if i[:15].lower() == m.lower()
        ]
        if ids:
            return DealMatch(ids=list(dict.fromkeys(ids)), phrase="id")
        norm = normalise(text)
        skip = {w.lower() for w in exclude}
        tokens = [w for w in words(text) if w not in skip]
        scores: dict[str, float] = {}
        exact: set[str] = set()
        for deal_id in self.deals:
            if self.full[deal_id] and self.full[deal_id] in norm:
                scores[deal_id] = 10.0
                continue
            brand = self.brand[deal_id]
            if not brand:
                continue
            best = [max((_similar(b, t) for t in tokens), default=0.0) for b in brand]
            if max(best) < FUZZY:
                continue
            if 1.0 in best:
                exact.add(deal_id)
            score = sum(s for s in best if s >= FUZZY)
            score += 0.1 * sum(1 for w in self.extra[deal_id] if w in tokens)
            scores[deal_id] = score
        if exact:  # a word spelled exactly beats near-misses ("Redwoodport" vs "Redwoodpoint")
            scores = {k: v for k, v in scores.items() if k in exact or v >= 10.0}
        if not scores:
            return DealMatch()
        # per account: the best-scoring deals; ties inside an account are ambiguous
        by_account: dict[str, list[str]] = defaultdict(list)
        for deal_id in scores:
            by_account[str(self.deals[deal_id].get("account") or deal_id)].append(deal_id)
        top = max(scores.values())
        winners: list[str] = []
        ambiguous: list[str] = []
        for members in by_account.values():
            best_here = max(scores[m] for m in members)
            if best_here < top - 1.0 + 1e-9 and top >= 10.0:
                continue  # an exact name elsewhere beats fuzzy account hits
            if best_here < top * 0.75:
                continue
            tied = sorted(m for m in members if abs(scores[m] - best_here) < 1e-9)
            if len(tied) == 1:
                winners.append(tied[0])
            else:
                ambiguous.extend(tied)
        if ambiguous:
            return DealMatch(candidates=ambiguous + winners)
        return DealMatch(ids=sorted(winners, key=lambda i: -scores[i]))


@dataclass
class RepMatch:
    user_ids: list[str] = field(default_factory=list)
    team: bool = False  # "Camille's team"
    words: list[str] = field(default_factory=list)  # the words naming them


def match_reps(
    text: str, users: Sequence[Mapping[str, Any]], caller_id: str | None = None
) -> RepMatch:
    """Users named in `text` (full, first or last name; unique first/last names only),
    "my team"/"my deals" for the caller; `team` when followed by "team"."""
    low = text.lower().replace("’", "'")
    tokens = words(low)
    first = Counter(str(u["name"]).split()[0].lower() for u in users if u.get("name"))
    last = Counter(str(u["name"]).split()[-1].lower() for u in users if u.get("name"))
    found: list[str] = []
    used: list[str] = []
    for u in users:
        name = str(u.get("name") or "")
        if not name:
            continue
        parts = name.lower().split()
        if name.lower() in low:
            found.append(str(u["id"]))
            used.extend(parts)
        elif parts[0] in tokens and first[parts[0]] == 1:
            found.append(str(u["id"]))
            used.append(parts[0])
        elif parts[-1] in tokens and last[parts[-1]] == 1 and len(parts[-1]) >= MIN_TOKEN:
            found.append(str(u["id"]))
            used.append(parts[-1])
    # "my deals", but also "my biggest deals", "my open opportunities", "my Q3 forecast"
    my = re.search(
        r"\bmy\s+(?:\S+\s+){0,2}?(team|deals|opportunities|opps|pipeline|forecast"
        r"|number|reps|quota|commit)\b",
        low,
    )
    if not found and caller_id and my:
        found.append(caller_id)
    team = bool(re.search(r"\bteam\b|\breports\b|\breps\b", low))
    return RepMatch(user_ids=list(dict.fromkeys(found)), team=team, words=used)
