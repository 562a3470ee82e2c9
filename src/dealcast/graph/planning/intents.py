"""Intent rules: what a request asks for, first match wins (the order below matters)."""

from __future__ import annotations

import re

INTENTS = (
    "what_if",  # scenario against the baseline forecast
    "changes",  # what changed since ...
    "refresh",  # data freshness
    "evidence",  # what was said / which deals mention ... (quoted CRM activity)
    "list_deals",  # list deals by risk / stage / owner
    "deal_actions",  # what should I do about a deal
    "deal_explain",  # explain a deal's score
    "deal_risk",  # why is a deal at risk
    "forecast",  # forecast / commit for a period, rep or team
    "help",  # nothing recognised: say what I can do
)
DEAL_INTENTS = ("deal_actions", "deal_explain", "deal_risk")

_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("what_if", re.compile(r"\b(what if|what happens if|suppose|imagine|if we (lose|win))\b")),
    (
        "changes",
        re.compile(
            r"\bwhat('s| has)? (changed|moved)\b|\bchanges? (since|in the last|over)\b"
            r"|\b(what|anything) (is )?new since\b|\bwaterfall\b"
        ),
    ),
    (
        "refresh",
        re.compile(r"\b(refresh|resync|sync|fresh|freshness|up to date|stale|last import)\b"),
    ),
    (
        "evidence",
        re.compile(
            r"\bmention(s|ed|ing)?\b|\bwho (said|says|wrote|raised|brought up)\b"
            r"|\bwhat (did|does|has|have) .{1,60}\b(say|said|tell|told|write|wrote|mention"
            r"|think|raise|ask)\b|\b(said|says|say|wrote|written|told us) about\b"
            r"|\b(quotes?|quoted)\b|\b(emails?|call notes?|meeting notes?|notes|calls|meetings)"
            r" (about|on|mentioning|with|from|that)\b|\btalk(ed|ing)? about\b"
        ),
    ),
    (
        "list_deals",
        re.compile(
            r"\b(list|show( me)?|which|top|biggest|largest|riskiest)\b"
            r".*\b(deals|opportunities|opps)\b"
            r"|\b(deals|opportunities|opps) (by|in|at|for|of|owned)\b|\bmost at risk\b"
        ),
    ),
    (
        "deal_actions",
        re.compile(
            r"\bwhat (should|can|do) (i|we)\b|\bnext (best )?(step|action)s?\b"
            r"|\bhow (do|can) (i|we) (save|win|rescue|fix|close)\b"
            r"|\brecommend|\bactions?\b|\badvice\b|\bhelp me\b"
        ),
    ),
    (
        "deal_explain",
        re.compile(
            r"\bexplain\b|\bscore\b|\bprobability\b|\bhow likely\b|\bodds\b|\bchances?\b"
            r"|\bwhy (is|does) .* (at|only) \d+ ?%"
        ),
    ),
    (
        "deal_risk",
        re.compile(r"\brisk|\bworr|\bproblem|\bwrong\b|\bconcern|\bred flag|\bin trouble\b"),
    ),
    (
        "forecast",
        re.compile(
            r"\bforecast|\bcommit\b|\bour number\b|\bnumbers?\b|\boutlook\b|\bland\b|\bclose\b"
            r"|\bbookings\b|\bquota\b|\bcoverage\b|\bp50\b|\bp90\b|\bbest case\b|\bpipeline\b"
        ),
    ),
)


def detect_intent(text: str) -> str | None:
    """The first intent whose rule matches `text`, or None."""
    t = text.lower().replace("’", "'")
    for intent, pattern in _RULES:
        if pattern.search(t):
            return intent
    return None


def is_follow_up(text: str) -> bool:
    """A request that leans on the previous turn ("and what should I do about it?")."""
    t = text.lower()
    return bool(
        re.match(r"^\s*(and|what about|how about|also|then|ok|okay|so)\b", t)
        or re.search(r"\b(it|this deal|that deal|this one|that one|them|those|these)\b", t)
    )
