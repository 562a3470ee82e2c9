"""PII redaction for chat output: pure regexes plus validators (no NER models).

`redact(text, policy)` replaces emails, phone numbers, payment card numbers (Luhn),
US SSNs (validity rules), IBANs (mod-97) and the policy's contact names with `[EMAIL]`,
`[PHONE]`, `[CARD]`, `[SSN]`, `[IBAN]`, `[NAME]`; `redact_data(obj, policy)` does the same
to every string (and string key) in nested dicts/lists and replaces the values of the
policy's sensitive keys ("email", "phone", ...) whole.

When two detections overlap, the earlier kind in `PiiKind` wins (an email that contains
digits is an email, not a phone number). Findings hold positions, never the values, so they
can be logged. Not covered: obfuscated emails ("jane at acme dot com"), names not listed
by the caller, postal addresses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from numbers import Number
from typing import Any

from dealcast.safety import detectors
from dealcast.safety.policy import PiiPolicy, normalize_key

MAX_DEPTH = 64


class PiiKind(StrEnum):
    EMAIL = "email"
    IBAN = "iban"
    CARD = "card"
    SSN = "ssn"
    PHONE = "phone"
    NAME = "name"

    @property
    def token(self) -> str:
        return f"[{self.value.upper()}]"


@dataclass(frozen=True)
class Finding:
    kind: PiiKind
    start: int
    end: int
    replacement: str


@dataclass(frozen=True)
class Redaction:
    text: str
    found: list[Finding] = field(default_factory=list)


@dataclass(frozen=True)
class DataFinding:
    """One redaction in structured data: where (`$.deals[0].email`) and what kind
    (a `PiiKind` value, or "key" for a sensitive key's value replaced whole)."""

    path: str
    kind: str


@dataclass(frozen=True)
class DataRedaction:
    data: Any
    found: list[DataFinding] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.found)


DEFAULT_POLICY = PiiPolicy()


def _detectors(policy: PiiPolicy) -> list[tuple[PiiKind, Callable[[str], list[tuple[int, int]]]]]:
    out: list[tuple[PiiKind, Callable[[str], list[tuple[int, int]]]]] = []
    if policy.emails:
        out.append((PiiKind.EMAIL, detectors.emails))
    if policy.ibans:
        out.append((PiiKind.IBAN, detectors.ibans))
    if policy.cards:
        out.append((PiiKind.CARD, detectors.cards))
    if policy.ssns:
        out.append((PiiKind.SSN, detectors.ssns))
    if policy.phones:
        out.append((PiiKind.PHONE, detectors.phones))
    if policy.names:
        out.append((PiiKind.NAME, policy.name_matcher.find))
    return out


def find_pii(text: str, policy: PiiPolicy = DEFAULT_POLICY) -> list[Finding]:
    """Non-overlapping findings in `text`, in order of position."""
    taken: list[tuple[int, int]] = []
    found: list[Finding] = []
    for kind, detect in _detectors(policy):
        for start, end in sorted(set(detect(text)), key=lambda s: (s[0], -s[1])):
            if start >= end or any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            found.append(Finding(kind, start, end, kind.token))
    return sorted(found, key=lambda f: f.start)


def redact(text: str, policy: PiiPolicy = DEFAULT_POLICY) -> Redaction:
    """`text` with every finding replaced by its token; unchanged when nothing is found."""
    found = find_pii(text, policy)
    if not found:
        return Redaction(text, [])
    parts: list[str] = []
    pos = 0
    for f in found:
        parts.append(text[pos : f.start])
        parts.append(f.replacement)
        pos = f.end
    parts.append(text[pos:])
    return Redaction("".join(parts), found)


def _key_token(key: str) -> str:
    k = normalize_key(key)
    if "email" in k or k in ("fromaddress", "toaddress", "ccaddress", "bccaddress"):
        return PiiKind.EMAIL.token
    if "phone" in k or k in ("mobile", "fax"):
        return PiiKind.PHONE.token
    if "ssn" in k or "socialsecurity" in k:
        return PiiKind.SSN.token
    if "card" in k:
        return PiiKind.CARD.token
    if "iban" in k:
        return PiiKind.IBAN.token
    return "[REDACTED]"


_SCALARS = (bool, Number, Decimal, date, datetime, time)


def redact_data(obj: Any, policy: PiiPolicy = DEFAULT_POLICY) -> DataRedaction:
    """A redacted copy of nested dicts/lists/tuples: strings (values and keys) go through
    `redact`; the value of a sensitive key is replaced whole (None stays None); numbers,
    dates and booleans pass unchanged. Any other object raises TypeError (convert to plain
    data first, so nothing passes unchecked)."""
    found: list[DataFinding] = []

    def walk(value: Any, path: str, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ValueError(f"data nested deeper than {MAX_DEPTH} levels at {path}")
        if isinstance(value, str):
            r = redact(value, policy)
            found.extend(DataFinding(path, f.kind.value) for f in r.found)
            return r.text
        if value is None or isinstance(value, _SCALARS):
            return value
        if isinstance(value, dict):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                key: Any = k
                if isinstance(k, str):
                    rk = redact(k, policy)
                    found.extend(DataFinding(f"{path}.<key>", f.kind.value) for f in rk.found)
                    key = _unique(rk.text, out)
                child = f"{path}.{k}" if isinstance(k, str) else f"{path}[{k!r}]"
                if isinstance(k, str) and normalize_key(k) in policy.sensitive_keys:
                    if v is None:
                        out[key] = None
                    else:
                        found.append(DataFinding(child, "key"))
                        out[key] = _key_token(k)
                    continue
                out[key] = walk(v, child, depth + 1)
            return out
        if isinstance(value, list | tuple):
            items = [walk(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
            return items if isinstance(value, list) else tuple(items)
        raise TypeError(f"cannot redact a {type(value).__name__} at {path}: pass plain data")

    return DataRedaction(walk(obj, "$", 0), found)


def _unique(key: str, taken: dict[Any, Any]) -> str:
    """Two keys redacted to the same token ("[EMAIL]") keep both values: "[EMAIL] (2)"."""
    if key not in taken:
        return key
    n = 2
    while f"{key} ({n})" in taken:
        n += 1
    return f"{key} ({n})"
