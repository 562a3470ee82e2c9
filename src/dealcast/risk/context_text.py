"""Text helpers the risk context needs on top of the shared text signals.

- Masking: signatures and attendee lists are full of people, and a contact called Paul
  Price or an address like rival.smith@... would otherwise read as a pricing or competitor
  mention. Email addresses are always masked; full names only for people whose first or
  last name is itself a signal word, which keeps the substitution cheap.
- Competitor names: configured names plus names the org's own notes use in competitive
  phrasing ("also evaluating X", "X pitched a lower price") across several deals.
- Call outcomes: Salesforce keeps the call result in free text in most orgs; a call that
  went to voicemail is an attempt, not a conversation.
- Chases and on-hold statements: a seller's "I haven't heard back" says the buyer went
  quiet; "things are on hold" says the deal stopped moving, sooner than silence shows it.
- Affirmed budget confirmations: "budget approved" is not a confirmation in "how to get
  budget approved" or "budget isn't approved yet".
CRM text is untrusted input: it is only ever matched, never executed or obeyed.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

import pandas as pd

from dealcast.risk.text_patterns import SIGNALS, TextSignals

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
EMAIL_MASK = "[email]"
NAME_MASK = "[name]"

NO_ANSWER = re.compile(
    r"\b(?:voice ?mail|no answer|did(?:n.t| not) (?:pick up|answer)|left (?:a )?(?:message|vm)|"
    r"unreachable|could(?:n.t| not) reach|not reachable|no response)\b",
    re.IGNORECASE,
)

# A chase: the seller says in writing that the buyer has gone quiet ("I haven't heard
# back", "bumping this up"). Plain "following up on our conversation" is an ordinary
# opener, so only the wordings that presuppose an unanswered message count.
CHASE = re.compile(
    r"\b(?:have(?:n.t| not) heard (?:back|from you)|did(?:n.t| not) hear back|"
    r"just following up|following up on my (?:last|previous) (?:email|message|note)|"
    r"bump(?:ing)? (?:this|it|my (?:last )?(?:email|message))|circling back|"
    r"close (?:out )?the file|still on your radar|did(?:n.t| not) get lost|"
    r"not sure (?:if|whether) you (?:saw|got|received))\b",
    re.IGNORECASE,
)

# On hold: the deal is paused by the buyer's own account ("priorities have shifted",
# "things are on hold", "revisit next quarter"), stated by them or noted by the seller.
ON_HOLD = re.compile(
    r"\b(?:on hold|on ice|(?:priorities|plans) (?:have |has )?(?:shifted|changed)|"
    r"dropped (?:down )?(?:the|our) (?:list|priorities)|deprioriti[sz]ed|"
    r"revisit (?:this |it )?(?:next|in) (?:quarter|year|month)|no new date|"
    r"(?:deal|project) is stuck|still a priority|timeline has changed|re-?engage|"
    r"new sponsor|re-?establish the timeline)\b",
    re.IGNORECASE,
)

# A competitor name: a capitalised word, optionally two ("Close Right"), right after or
# before unambiguous competitive phrasing.
_NAME = r"([A-Z][\w&.-]*[A-Za-z0-9](?: [A-Z][\w&-]*[A-Za-z0-9])?)"
_BEFORE = (
    r"(?i:also evaluating|evaluating|also looking at|demo from|comparing (?:us|you) "
    r"(?:with|to|against)|compared? (?:us|you|them) (?:with|to|against)|comparison with|"
    r"differentiation against|leaning towards?|going with|went with|decided on|versus|vs\.?|"
    r"moved to us from|switch(?:ed|ing)? (?:to|from)|battlecard (?:vs\.?|against))"
)
_AFTER = (
    r"(?i:'s (?:price|pricing|offer|proposal|quote)|(?: is| are) in the deal| showed us|"
    r" pitched| came in (?:cheaper|lower)| is cheaper| quoted)"
)
_COMPETITIVE = (re.compile(_BEFORE + r"\s+" + _NAME), re.compile(_NAME + _AFTER))
_ANCHORS = (
    *("evaluating", "looking at", "demo from", "compar", "differentiation", "leaning tow"),
    *("going with", "went with", "decided on", "versus", "vs", "moved to us", "switch"),
    *("battlecard", "'s pric", "'s offer", "'s proposal", "'s quote", "in the deal"),
    *("showed us", "pitched", "came in ", "cheaper", "quoted"),
)
# Capitalised words that follow competitive phrasing without being a vendor.
_NOT_NAMES = frozenset(
    """A An The This That These Those Our Your Their We You They It Us Them Other Another
    Some Any All Both Each Q1 Q2 Q3 Q4 Monday Tuesday Wednesday Thursday Friday Excel
    Spreadsheets Finance Legal IT Procurement Security""".split()  # noqa: SIM905
)
MIN_COMPETITOR_DEALS = 3  # a vendor name recurs across deals; a one-off capital word doesn't

BUDGET_TOPIC = re.compile(r"\b(budget|funding|funds|spend|purchase order|po)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_APPROVED = re.compile(
    r"\b(approved|confirmed|allocated|secured|signed off|released|cleared|"
    r"got (?:the )?(?:budget |funding )?(?:approval|sign-?off))\b",
    re.IGNORECASE,
)
# Hedges and negations in the words just before a budget confirmation.
_NOT_AFFIRMED = re.compile(
    r"\b(how|need|needs|needed|to get|to have|once|until|unless|if|whether|before|pending|"
    r"waiting|wait|not|no|isn.?t|hasn.?t|wasn.?t|haven.?t|yet|still|when|hope|hoping|"
    r"expect|expecting)\b|\?",
    re.IGNORECASE,
)


def colliding_names(people: pd.Series, signals: TextSignals) -> list[str]:
    """Full names ("First Last") with a token that a signal pattern matches on its own."""
    return list(_colliding(tuple(people.dropna().astype(str)), signals))


@lru_cache(maxsize=16)
def _colliding(people: tuple[str, ...], signals: TextSignals) -> tuple[str, ...]:
    # memoised on the names themselves: every single-deal risk load passes the org's people
    names = {" ".join(p.split()) for p in people}
    names = {n for n in names if " " in n}
    bad = {t for t in {t for n in names for t in n.split()} if _signal_word(signals, t)}
    return tuple(sorted(n for n in names if bad.intersection(n.split())))


@lru_cache(maxsize=200_000)
def _signal_word(signals: TextSignals, token: str) -> bool:
    """A name token some signal pattern matches on its own. Memoised: every risk load checks
    every person's name in the org, and names rarely change (TextSignals is hashable)."""
    return any(signals.compiled(s).fullmatch(token) for s in SIGNALS)


def mask_people(texts: pd.Series, people: pd.Series, signals: TextSignals) -> pd.Series:
    return mask_names(texts, colliding_names(people, signals))


def mask_names(texts: pd.Series, names: list[str]) -> pd.Series:
    """Mask email addresses and the given full names (see `colliding_names`)."""
    out = texts.fillna("").str.replace(EMAIL, EMAIL_MASK, regex=True)
    if names:
        alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        out = out.str.replace(re.compile(rf"\b(?:{alternatives})\b"), NAME_MASK, regex=True)
    return out


def discover_competitors(
    texts: pd.Series, deal_ids: pd.Series, exclude: Iterable[str]
) -> tuple[str, ...]:
    """Names used in competitive phrasing in at least MIN_COMPETITOR_DEALS deals."""
    excluded = {t.lower() for e in exclude if isinstance(e, str) for t in e.split()}
    deals: dict[str, set[str]] = defaultdict(set)
    for deal, text in zip(deal_ids, texts, strict=True):
        lowered = text.lower()
        if not any(anchor in lowered for anchor in _ANCHORS):
            continue  # the phrasing below needs one of these: a cheap pre-filter
        for pattern in _COMPETITIVE:
            for match in pattern.finditer(text):
                deals[match.group(1)].add(deal)
    return tuple(
        sorted(
            name
            for name, seen in deals.items()
            if len(seen) >= MIN_COMPETITOR_DEALS
            and name not in _NOT_NAMES
            and not excluded.intersection(name.lower().split())
        )
    )


def names_pattern(names: Iterable[str]) -> re.Pattern[str] | None:
    """Any of `names` as whole words, case as written (None when there are none)."""
    ordered = sorted({n for n in names if n}, key=len, reverse=True)
    if not ordered:
        return None
    return re.compile(r"\b(?:" + "|".join(re.escape(n) for n in ordered) + r")\b")


def mentions(texts: pd.Series, names: Iterable[str]) -> pd.Series:
    """Does each text name one of `names`?"""
    pattern = names_pattern(names)
    if pattern is None:
        return pd.Series(False, index=texts.index)
    return texts.fillna("").str.contains(pattern)


def affirmed(text: str, pattern: re.Pattern[str], topic: re.Pattern[str] | None = None) -> bool:
    """For a flagged text: True when some match of `pattern` is stated, not hedged ("how to
    get budget approved", "budget approved?", "isn't approved yet"). A flag without a
    pattern match (a learned flag) counts only for a body sentence on `topic` that reports
    an approval in the past tense, unhedged ("We got budget approval this morning")."""
    matches = list(pattern.finditer(text or ""))
    for match in matches:
        before = re.split(r"[.;!\n]", text[max(0, match.start() - 40) : match.start()])[-1]
        after = text[match.end() : match.end() + 12]
        if not _NOT_AFFIRMED.search(before) and not re.match(r"\s*(yet\b|\?)", after):
            return True
    if matches or topic is None:
        return False
    body = text.split("\n", 1)[1] if "\n" in text else ""
    return any(
        topic.search(sentence) and _APPROVED.search(sentence) and not _NOT_AFFIRMED.search(sentence)
        for sentence in _SENTENCE.split(body)
    )
