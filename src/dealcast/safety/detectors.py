"""Regex + validator detectors for each PII kind: each returns (start, end) spans.

Every pattern refuses to start or end inside a longer token, so digits inside deal ids
(006L00000000001IAA), money ($120,000), percentages (45%), decimals and dates are not
read as PII; the validators (`validators.py`) then reject look-alikes that fail a
checksum or a numbering rule.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable
from typing import Any

from dealcast.safety.validators import (
    card_ok,
    iban_checksum_ok,
    iban_length_ok,
    nanp_ok,
    ssn_ok,
)

Span = tuple[int, int]

# a number must not continue a word, an amount, a decimal, a path or a date on either side
_NOT_AFTER = r"(?<![\w+$€£¥.,/-])"
_NOT_BEFORE = r"(?![\w%]|[.,/-]\d)"

_EMAIL = re.compile(
    r"(?<![\w.%+'-])[A-Za-z0-9][A-Za-z0-9._%+'-]{0,63}"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,24}(?![\w-])"
)

# one pattern per separator: a card is grouped with spaces or with dashes, not both
_CARDS = [re.compile(_NOT_AFTER + r"\d(?:" + sep + r"?\d){12,24}" + _NOT_BEFORE) for sep in " -"]

_SSN = re.compile(_NOT_AFTER + r"(\d{3})([- ])(\d{2})\2(\d{4})" + _NOT_BEFORE)
_SSN_CONTEXT = re.compile(
    r"(?i)\b(?:ssn|ss\#|social\s+security(?:\s+(?:number|no\.?|\#))?)"
    r"\s*(?:\#|no\.?|number)?\s*[:=]?\s*(\d{9})(?![\w%]|[.,/-]\d)"
)

_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Za-z0-9]){11,40}")

_EXT = r"(?:\s?(?:x|ext\.?)\s?\d{1,5})?"
# after the country code, groups are separated (or the number is one compact run): an
# optional separator between digit groups would let the engine split long digit runs in
# exponentially many ways before giving up
_PHONE_INTL = re.compile(
    _NOT_AFTER
    + r"(?:\+[1-9]\d{6,14}|(?:\+|00)[1-9]\d{0,3}"
    + r"(?:[ .-]?\(\d{1,4}\)[ .-]?\d{1,8})?(?:[ .-]\d{1,8}){0,6})"
    + _EXT
    + _NOT_BEFORE
)
_PHONE_US = re.compile(
    _NOT_AFTER + r"(?:1[ .-]?)?(?:\(\d{3}\)[ .-]?|\d{3}[ .-])\d{3}[ .-]\d{4}" + _EXT + _NOT_BEFORE
)
_PHONE_US_BARE = re.compile(_NOT_AFTER + r"1?[2-9]\d{2}[2-9]\d{6}" + _NOT_BEFORE)
_PHONE_CONTEXT = re.compile(
    r"(?i)\b(?:phone|tel|telephone|mobile|cell|fax|whatsapp|call\s+(?:me\s+)?(?:at|on))\b"
    r"\.?\s*(?:\#|no\.?|number)?\s*[:=]?\s*(\+?\(?\d[\d ().-]{5,22}\d)(?![\w%]|[.,/-]\d)"
)
_EXT_TAIL = re.compile(r"\s?(?:x|ext\.?)\s?\d{1,5}$")
_DATE_LIKE = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")


def _digits(s: str) -> str:
    return "".join(ch for ch in s if ch.isdigit())


def emails(text: str) -> list[Span]:
    return [m.span() for m in _EMAIL.finditer(text)]


def _windows(n: int) -> Iterable[tuple[int, int]]:
    """Contiguous group windows [i, j), longest first."""
    for size in range(n, 0, -1):
        for i in range(n - size + 1):
            yield i, i + size


def _best_groups(groups: list[Span], ok: Callable[[int, int], bool]) -> list[tuple[int, int]]:
    """Non-overlapping windows of groups that pass `ok`, preferring the longest."""
    found: list[tuple[int, int]] = []

    def search(lo: int, hi: int) -> None:
        for i, j in _windows(hi - lo):
            if ok(lo + i, lo + j):
                found.append((lo + i, lo + j))
                search(lo, lo + i)
                search(lo + j, hi)
                return

    search(0, len(groups))
    return found


def cards(text: str) -> list[Span]:
    """Payment card numbers, bare or grouped by spaces or dashes (one kind), Luhn-checked.
    A run of groups longer than a card (an order number before it, a year after it) is
    searched for the card inside it, group by group."""
    out: set[Span] = set()
    for m in (m for pattern in _CARDS for m in pattern.finditer(text)):
        raw = m.group(0)
        groups = [(g.start() + m.start(), g.end() + m.start()) for g in re.finditer(r"\d+", raw)]

        def ok(i: int, j: int, groups: list[Span] = groups) -> bool:
            return card_ok("".join(text[a:b] for a, b in groups[i:j]))

        out.update((groups[i][0], groups[j - 1][1]) for i, j in _best_groups(groups, ok))
    return sorted(out)


def ssns(text: str) -> list[Span]:
    """US SSNs written 123-45-6789 or 123 45 6789 (any text), or 9 bare digits right after
    "SSN"/"social security number"; area 000/666/9xx, group 00 and serial 0000 are invalid."""
    out = [m.span() for m in _SSN.finditer(text) if ssn_ok(m.group(1), m.group(3), m.group(4))]
    for m in _SSN_CONTEXT.finditer(text):
        d = m.group(1)
        if ssn_ok(d[:3], d[3:5], d[5:]):
            out.append(m.span(1))
    return out


def ibans(text: str) -> list[Span]:
    """IBANs, compact or in groups of four, checked by country length and mod-97. A match
    may run on into the following words; the IBAN is cut out of it by its country length
    (or, for unlisted countries, the longest prefix passing the checksum)."""
    out: list[Span] = []
    pos = 0
    while (m := _IBAN.search(text, pos)) is not None:
        pos = m.start() + 1
        positions = [m.start() + i for i, ch in enumerate(m.group(0)) if ch != " "]
        compact = "".join(text[p] for p in positions).upper()
        for length in range(min(len(compact), 34), 14, -1):
            end = positions[length - 1] + 1
            if end < len(text) and text[end].isalnum():
                continue  # the IBAN would end inside a word
            candidate = compact[:length]
            if iban_length_ok(candidate) and iban_checksum_ok(candidate):
                out.append((m.start(), end))
                pos = end
                break
    return out


def phones(text: str) -> list[Span]:
    """Phone numbers: international (+CC or 00CC, 8-15 digits), North American
    ((415) 555-0134, 415-555-0134, 415.555.0134, +1 ..., 4155550134 with valid area code
    and exchange) and any 7-15 digit number right after "phone", "tel", "mobile", "fax"..."""
    out: list[Span] = []
    for m in _PHONE_INTL.finditer(text):
        raw = _EXT_TAIL.sub("", m.group(0))
        digits = _digits(raw)
        if raw.startswith("00"):
            if not re.search(r"[ .()-]", raw):
                continue  # 00 + a bare digit run: more likely an id than a phone number
            digits = digits[2:]
        if 8 <= len(digits) <= 15:
            out.append(m.span())
    for pattern in (_PHONE_US, _PHONE_US_BARE):
        for m in pattern.finditer(text):
            if nanp_ok(_digits(_EXT_TAIL.sub("", m.group(0)))):
                out.append(m.span())
    for m in _PHONE_CONTEXT.finditer(text):
        raw = m.group(1)
        if 7 <= len(_digits(raw)) <= 15 and not _DATE_LIKE.match(raw):
            out.append(m.span(1))
    return out


# ---- names -------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


def _gap(text: str) -> str:
    """A separator between two words, whitespace removed ("" for plain spaces)."""
    return "".join(text.split())


class NameMatcher:
    """Finds listed names (contact names, deal names) in text: case-insensitive, whole
    words only, any whitespace between words, the longest listed name first ("Ann Lee"
    before "Ann"). A word trie: thousands of names cost no more per text than a few."""

    _END = ""  # trie key marking the end of a name (never a real edge: edges are tuples)

    def __init__(self, names: Iterable[str]) -> None:
        self._root: dict[Any, Any] = {}
        for name in {n.strip() for n in names if n and n.strip()}:
            words = list(_WORD.finditer(name))
            if len(name) < 2 or not words or words[0].start() != 0:
                continue  # names must start with a letter or digit
            node = self._root.setdefault(words[0].group(0).casefold(), {})
            for a, b in itertools.pairwise(words):
                node = node.setdefault((_gap(name[a.end() : b.start()]), b.group(0).casefold()), {})
            node[self._END] = True

    def __bool__(self) -> bool:
        return bool(self._root)

    def find(self, text: str) -> list[Span]:
        if not self._root:
            return []
        tokens = list(_WORD.finditer(text))
        folded = [t.group(0).casefold() for t in tokens]
        out: list[Span] = []
        i = 0
        while i < len(tokens):
            size = self._longest_at(text, tokens, folded, i)
            if size:
                out.append((tokens[i].start(), tokens[i + size - 1].end()))
                i += size
            else:
                i += 1
        return out

    def _longest_at(self, text: str, tokens: list[re.Match[str]], folded: list[str], i: int) -> int:
        node = self._root.get(folded[i])
        best = 0
        j = i
        while node is not None:
            if self._END in node:
                best = j - i + 1
            if j + 1 >= len(tokens):
                break
            node = node.get((_gap(text[tokens[j].end() : tokens[j + 1].start()]), folded[j + 1]))
            j += 1
        return best
