"""Text normalisation and money/percent parsing shared by the planner helpers."""

from __future__ import annotations

import re

_NON_WORD = re.compile(r"[^a-z0-9$%.,'\-]+")
_MONEY = re.compile(
    r"(?<![\w.])\$?\s?(\d+(?:[.,]\d+)*)\s?(k|m|mm|million|thousand|bn|b)?(?![\w%])",
    re.IGNORECASE,
)


def normalise(text: str) -> str:
    """Lower case, possessives dropped, punctuation -> spaces (keeps $ % . , - inside
    tokens for amounts, dates and period labels)."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"'s\b", "", text)
    text = _NON_WORD.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def words(text: str) -> list[str]:
    """Plain alphanumeric tokens of `text`."""
    return re.findall(r"[a-z0-9]+", text.lower().replace("'s ", " "))


def parse_money(text: str) -> float | None:
    """The first amount in `text` that looks like money: "$50k", "50,000", "1.2M"; plain
    small numbers without a $ or suffix are ignored (they are usually counts)."""
    for m in _MONEY.finditer(text):
        raw, suffix = m.group(1), (m.group(2) or "").lower()
        has_dollar = "$" in m.group(0)
        try:
            value = float(raw.replace(",", ""))
        except ValueError:
            continue
        mult = {"k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6}.get(suffix)
        mult = mult or ({"b": 1e9, "bn": 1e9}.get(suffix))
        if mult:
            return value * mult
        if has_dollar or value >= 1000:
            return value
    return None


def parse_percent(text: str) -> float | None:
    m = re.search(r"(\d+(?:\.\d+)?)\s?(?:%|percent\b)", text)
    return float(m.group(1)) if m else None
