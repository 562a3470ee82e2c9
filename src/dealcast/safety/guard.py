"""The output guard: the last step before an answer reaches the caller.

`guard_output` does two things, in this order:
1. Visibility. Every deal id (Salesforce `006...`, 15 or 18 characters) and owner/user id
   (`005...`) found in the answer text, the structured data or the citations must be
   visible to the caller (`Visibility.can_see_deal` / `can_see`), and the text must not
   name a deal the caller cannot see (`Visibility.hidden_deal_names`). Items of data and
   citations that refer to something hidden are removed: a string or a record (dict)
   holding such a reference is dropped from its list, a record nested in a record takes its
   parent with it, a dict key that is a hidden id drops that entry. If the *text* refers to
   something hidden, the whole answer is blocked: the text cannot be repaired safely.
2. PII. The text, data and citations are redacted with the caller's `PiiPolicy`.

A blocked result carries no text, no data and no citations, only the reasons. Reasons
never quote the hidden ids or the PII.

Fail-safe: any exception inside the guard gives `blocked=True`, the reason
"guardrail error: <exception type>" and empty output; the unguarded answer is never
returned. The exception itself is logged (it may quote data, so it is not in the reason).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dealcast.safety.ids import DEAL_PREFIX, USER_PREFIX, find_refs
from dealcast.safety.pii import redact, redact_data
from dealcast.safety.policy import Caller, PiiPolicy, Visibility

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GuardResult:
    text: str
    data: Any
    citations: list[Any]
    blocked: bool
    reasons: list[str] = field(default_factory=list)
    redactions: int = 0


class _Drop:
    """Marker: this value refers to something hidden; its container must drop it."""


_DROP = _Drop()


def _empty_like(data: Any) -> Any:
    if isinstance(data, Mapping):
        return {}
    if isinstance(data, list | tuple):
        return []
    return None


def blocked_result(reasons: list[str], data: Any = None) -> GuardResult:
    return GuardResult("", _empty_like(data), [], True, list(reasons), 0)


class _Checker:
    def __init__(self, visibility: Visibility) -> None:
        self.visibility = visibility
        self.removed = 0
        self.hidden_names = visibility.hidden_name_matcher

    def hidden_ref(self, ref: str) -> bool:
        if ref.startswith(DEAL_PREFIX):
            return not self.visibility.can_see_deal(ref)
        if ref.startswith(USER_PREFIX):
            return not self.visibility.can_see(ref)
        return False

    def text_hidden(self, text: str) -> int:
        """How many references to hidden deals/owners `text` makes."""
        count = sum(1 for ref in find_refs(text) if self.hidden_ref(ref))
        if self.hidden_names:
            count += len(self.hidden_names.find(text))
        return count

    def prune(self, value: Any, depth: int = 0) -> Any:
        """`value` without what refers to hidden deals/owners, or _DROP if `value` itself
        does."""
        if depth > 64:
            raise ValueError("data nested too deeply")
        if isinstance(value, str):
            return _DROP if self.text_hidden(value) else value
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            for k, v in value.items():
                if isinstance(k, str) and self.text_hidden(k):
                    self.removed += 1
                    continue
                pruned = self.prune(v, depth + 1)
                if pruned is _DROP:
                    return _DROP
                out[k] = pruned
            return out
        if isinstance(value, list | tuple):
            items = []
            for v in value:
                pruned = self.prune(v, depth + 1)
                if pruned is _DROP:
                    self.removed += 1
                else:
                    items.append(pruned)
            return items if isinstance(value, list) else tuple(items)
        return value


def _guard(
    answer_text: str,
    data: Any,
    citations: list[Any] | None,
    caller: Caller,
    visibility: Visibility,
    policy: PiiPolicy,
) -> GuardResult:
    if not isinstance(answer_text, str):
        raise TypeError("answer_text must be a string")
    if not isinstance(caller, Caller) or not isinstance(visibility, Visibility):
        raise TypeError("caller and visibility must be a Caller and a Visibility")
    if visibility.caller != caller:
        raise ValueError("the visibility was built for another caller")
    checker = _Checker(visibility)

    mentions = checker.text_hidden(answer_text)
    if mentions:
        return blocked_result(
            [f"answer mentions {mentions} deal(s) or owner(s) outside the caller's visibility"],
            data,
        )

    pruned_data = checker.prune(data)
    reasons: list[str] = []
    if pruned_data is _DROP:
        checker.removed += 1
        pruned_data = _empty_like(data)
    removed_data = checker.removed
    pruned_citations = checker.prune(list(citations or []))
    removed_citations = checker.removed - removed_data
    if removed_data:
        reasons.append(f"removed {removed_data} data item(s) outside the caller's visibility")
    if removed_citations:
        reasons.append(f"removed {removed_citations} citation(s) outside the caller's visibility")

    text = redact(answer_text, policy)
    red_data = redact_data(pruned_data, policy)
    red_citations = redact_data(pruned_citations, policy)
    count = len(text.found) + red_data.count + red_citations.count
    if count:
        reasons.append(f"redacted {count} PII item(s)")
    return GuardResult(text.text, red_data.data, list(red_citations.data), False, reasons, count)


def guard_output(
    answer_text: str,
    data: Any,
    citations: list[Any] | None,
    caller: Caller,
    visibility: Visibility,
    policy: PiiPolicy,
) -> GuardResult:
    """The answer as the caller may see it (see the module docstring). Never raises."""
    try:
        return _guard(answer_text, data, citations, caller, visibility, policy)
    except Exception as exc:  # fail-safe: block, never pass the unguarded answer through
        log.exception("guardrail error; answer blocked")
        reason = f"guardrail error: {type(exc).__name__} (details in the server log)"
        try:
            return blocked_result([reason], data)
        except Exception:
            return GuardResult("", None, [], True, [reason], 0)
