"""What a detected risk looks like: a fixed code, a severity, plain words and evidence.

Evidence points at the CRM rows behind a risk (an email, a call, a history row...) so a
manager can check it in seconds; quotes are short excerpts, never whole bodies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

RISK_CODES = (
    "stalled",
    "ghost_contacts",
    "pricing_pressure",
    "single_threaded",
    "no_decision_maker",
    "close_date_slipped",
    "competitor_threat",
    "budget_unconfirmed",
    "negative_sentiment",
    "insufficient_data",
)
SEVERITIES = ("low", "medium", "high")
EVIDENCE_KINDS = (
    "email",
    "call",
    "meeting",
    "task",
    "history",
    "contact_role",
    "opportunity",
)
QUOTE_CHARS = 160  # long enough for a sentence of context, short enough for a table cell


@dataclass(frozen=True)
class Evidence:
    """One CRM row behind a risk: its kind (see EVIDENCE_KINDS), Id, when, and a quote."""

    kind: str
    id: str
    date: datetime | None
    quote: str = ""

    def __post_init__(self) -> None:
        if self.kind not in EVIDENCE_KINDS:
            raise ValueError(
                f"unknown evidence kind {self.kind!r}; valid: {', '.join(EVIDENCE_KINDS)}"
            )
        if len(self.quote) > QUOTE_CHARS:
            object.__setattr__(self, "quote", self.quote[: QUOTE_CHARS - 1].rstrip() + "…")

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "id": self.id,
            "date": self.date.isoformat() if self.date else None,
            "quote": self.quote,
        }


@dataclass(frozen=True)
class Risk:
    code: str
    severity: str
    message: str
    evidence: tuple[Evidence, ...] = ()

    def __post_init__(self) -> None:
        if self.code not in RISK_CODES:
            raise ValueError(f"unknown risk code {self.code!r}; valid: {', '.join(RISK_CODES)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}; valid: {', '.join(SEVERITIES)}")

    @property
    def rank(self) -> int:
        """Higher is worse: for sorting a deal's risks."""
        return SEVERITIES.index(self.severity)

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "evidence": [e.as_dict() for e in self.evidence],
        }
