"""Is every number and deal named in an answer traceable to a tool output in state?

Numbers: strings copied verbatim from tool outputs (messages, factor texts, quotes, names)
are set aside first, then dates, period labels and CRM Ids; every remaining number ("$1.2M",
"1,234,567", "45%", "-$20.5K", "3.5 pts") must equal some numeric value of the outputs at
the precision shown (a percentage may also be a 0-1 ratio × 100). Plain integers no larger
than the longest list in the outputs are accepted as counts, and 100 (as in "of 100").
Deals: every open deal whose name appears in the answer must appear in an output.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

DATE_OR_LABEL = re.compile(
    r"\b\d{4}-(?:\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?|Q[1-4]|W\d{2}|\d{2})\b"
)
CRM_ID = re.compile(r"\b[0-9A-Za-z]{3}[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?\b")
NUMBER = re.compile(r"(?<![\w.])[-+−]?(\$)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s?([KMB])?(%)?(?![\w])")
SCALE = {"K": 1e3, "M": 1e6, "B": 1e9}
ALWAYS_OK = {100.0}


def _walk(value: Any, strings: list[str], numbers: list[float], lengths: list[int]) -> None:
    if isinstance(value, Mapping):
        for v in value.values():
            _walk(v, strings, numbers, lengths)
    elif isinstance(value, list | tuple):
        lengths.append(len(value))
        for v in value:
            _walk(v, strings, numbers, lengths)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int | float):
        if math.isfinite(float(value)):
            numbers.append(abs(float(value)))
    elif isinstance(value, str):
        strings.append(value)


def facts(outputs: Iterable[Any]) -> tuple[list[str], list[float], int]:
    """String leaves, numeric leaves (absolute) and the longest list length."""
    strings: list[str] = []
    numbers: list[float] = []
    lengths: list[int] = [0]
    for out in outputs:
        _walk(out, strings, numbers, lengths)
    return strings, numbers, max(lengths)


def numbers_in(
    text: str, known_strings: Iterable[str]
) -> list[tuple[str, float, int, float, bool]]:
    """(token, value, decimals, scale, is_percent) of each number left to check."""
    scrubbed = text
    for s in sorted({s for s in known_strings if len(s) >= 3}, key=len, reverse=True):
        if s in scrubbed:
            scrubbed = scrubbed.replace(s, " ")
    scrubbed = DATE_OR_LABEL.sub(" ", scrubbed)
    scrubbed = CRM_ID.sub(lambda m: " " if re.search(r"\d", m.group(0)) else m.group(0), scrubbed)
    out = []
    for m in NUMBER.finditer(scrubbed):
        whole, frac, suffix, percent = m.group(2), m.group(3) or "", m.group(4), m.group(5)
        value = float(whole.replace(",", "") + frac)
        decimals = len(frac) - 1 if frac else 0
        out.append(
            (m.group(0).strip(), value, decimals, SCALE.get(suffix or "", 1.0), bool(percent))
        )
    return out


def _matches(value: float, decimals: int, scale: float, percent: bool, known: list[float]) -> bool:
    tol = 0.5 * 10 ** (-decimals) + 1e-9
    for v in known:
        if abs(v / scale - value) <= tol:
            return True
        if percent and abs(v * 100 - value) <= tol:
            return True
    return False


def untraceable(answer: str, outputs: Iterable[Any], deal_names: Iterable[str] = ()) -> list[str]:
    """Problems found: numbers and deal names in `answer` that no tool output holds."""
    strings, numbers, longest = facts(outputs)
    problems = []
    for token, value, decimals, scale, percent in numbers_in(answer, strings):
        if value in ALWAYS_OK and scale == 1.0:
            continue
        if scale == 1.0 and not percent and decimals == 0 and "$" not in token and value <= longest:
            continue  # a count of listed things
        if not _matches(value, decimals, scale, percent, numbers):
            problems.append(f"number {token} is not in any tool output")
    known = set(strings)
    for name in deal_names:
        if len(name) >= 8 and name in answer and name not in known:
            problems.append(f"deal {name!r} is not in any tool output")
    return problems
