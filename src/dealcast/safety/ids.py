"""Salesforce ids as they appear in answers: find them in text, compare 15- and 18-char forms.

A Salesforce id is 15 case-sensitive letters/digits, or the same 15 plus a 3-character
checksum suffix (18). The first three characters name the object: `006` Opportunity (a
deal), `005` User (a deal owner). Two ids name the same record when their first 15
characters are equal, so every comparison here goes through `id_key`.
"""

from __future__ import annotations

import re

DEAL_PREFIX = "006"
USER_PREFIX = "005"

_SF_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
# an id standing alone (not inside a longer run of letters/digits)
_REF = re.compile(r"(?<![A-Za-z0-9])(00[56][A-Za-z0-9]{12}(?:[A-Za-z0-9]{3})?)(?![A-Za-z0-9])")


def is_sf_id(value: str) -> bool:
    return bool(_SF_ID.match(value))


def id_key(value: str) -> str:
    """The comparison key of an id: its first 15 characters for Salesforce ids, else itself."""
    value = value.strip()
    return value[:15] if is_sf_id(value) else value


def find_refs(text: str) -> list[str]:
    """Deal (006) and user/owner (005) ids in `text`, in order of appearance."""
    return [m.group(1) for m in _REF.finditer(text)]
