"""Text signals from emails, call notes and meeting descriptions: one shared definition.

The scoring features (competitor mentions, pricing discussions, contract review, budget
confirmation) and the risk detectors both read these. Patterns are deliberately broad
sales-English, not tuned to any one org's wording; competitor names are org configuration.
CRM text is untrusted input: it is only ever matched, never executed or obeyed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

SIGNALS = (
    "pricing",
    "competitor",
    "budget_confirmed",
    "budget_risk",
    "contract_review",
    "scheduling",
    "negative",
    "positive",
)

_PATTERNS: dict[str, str] = {
    "pricing": (
        r"\b(discount\w*|pric(e|es|ing|ed)|too expensive|expensive|cost(s|ly)?|quote[sd]?|"
        r"cheaper|rate card|list price|per seat|per user|\d+ ?% off|lower (the )?(price|number)|"
        r"best (price|offer)|price (increase|objection)|over budget|"
        r"(bring|get|knock) (the )?(price|cost|number)s? down)\b"
    ),
    "competitor": (
        r"\b(competitor\w*|competing (vendor|offer|product|solution|bid)s?|other vendors?|"
        r"alternative (vendor|solution|provider)s?|evaluating (other|alternative)s?|"
        r"shortlist\w*|incumbent|bake-?off|head-to-head|rival|"
        r"(looking at|comparing (you|us) (with|to|against))\b)"
    ),
    "budget_confirmed": (
        r"\b(budget (is |has been |was |got |now )?(approved|confirmed|allocated|secured|"
        r"signed off|released|in place|cleared)|approved (the )?budget|"
        r"(funding|funds) (is |are |has been |have been |was |were )?"
        r"(approved|secured|confirmed|allocated|released)|"
        r"(po|purchase order) (is |has been |was )?(raised|issued|approved|cut))\b"
    ),
    "budget_risk": (
        r"\b(budget (freeze|frozen|cuts?|on hold|is tight|constraints?|pressure|not approved|"
        r"was cut|got cut|under review|isn.?t there)|no budget|spending freeze|"
        r"hiring freeze|(funding|funds) (pulled|cut|frozen|on hold))\b"
    ),
    "contract_review": (
        r"\b(msa|redline[sd]?|legal (review|team|counsel|approval)|contract (review|draft|terms|"
        r"language|redlines?)|security (review|questionnaire|assessment|audit)|dpa|"
        r"data processing (agreement|addendum)|terms and conditions|t&cs?|order form|"
        r"docusign|e-?signature|signature page|procurement (review|process|team)|infosec|"
        r"vendor (onboarding|registration|assessment))\b"
    ),
    "scheduling": (
        r"\b(schedul\w*|reschedul\w*|calendar|invite|availability|available (on|next|this)|"
        r"(book|set up|find) (a |some )?(time|slot|meeting|call)|"
        r"(next|this) (week|monday|tuesday|wednesday|thursday|friday))\b"
    ),
    "negative": (
        r"\b(disappoint\w*|concern(ed|s)?|frustrat\w*|not happy|unhappy|problem(s|atic)?|"
        r"push ?back|not a priority|on hold|hold off|pause[sd]?|"
        r"not (moving|going) forward|another direction|unfortunately|cancel\w*|"
        r"not convinced|too (slow|risky|complex)|deprioriti[sz]\w*|delay(ed|s)?)\b"
    ),
    "positive": (
        r"\b(excit\w*|great|love[sd]?|impress\w*|looks good|happy (with|to)|perfect|thrilled|"
        r"move forward|moving forward|on track|fantastic|excellent|well received|"
        r"strong fit|good fit|aligned|champion\w*)\b"
    ),
}


@dataclass(frozen=True)
class TextSignals:
    """Compiled patterns; `competitors` are the org's competitor names (matched as words)."""

    competitors: tuple[str, ...] = ()

    def _pattern(self, signal: str) -> str:
        if signal != "competitor" or not self.competitors:
            return _PATTERNS[signal]
        names = "|".join(re.escape(n) for n in sorted(self.competitors, key=len, reverse=True))
        return rf"(?:{_PATTERNS['competitor']}|\b(?:{names})\b)"

    def compiled(self, signal: str) -> re.Pattern[str]:
        if signal not in _PATTERNS:
            raise ValueError(f"unknown text signal {signal!r}; valid: {', '.join(SIGNALS)}")
        return re.compile(self._pattern(signal), re.IGNORECASE)

    def detect(self, texts: pd.Series, signals: Sequence[str] = SIGNALS) -> pd.DataFrame:
        """One boolean column per signal, aligned with `texts` (missing text: all False)."""
        filled = texts.fillna("").astype(str)
        out = {}
        for signal in signals:
            pattern = self.compiled(signal)
            out[signal] = np.fromiter(
                (pattern.search(t) is not None for t in filled), dtype=bool, count=len(filled)
            )
        return pd.DataFrame(out, index=texts.index)

    def quotes(self, text: str, signal: str, width: int = 80) -> Iterable[str]:
        """Short quotes around each match (evidence for humans)."""
        for match in self.compiled(signal).finditer(text or ""):
            start, end = (
                max(0, match.start() - width // 2),
                min(len(text), match.end() + width // 2),
            )
            yield " ".join(text[start:end].split())
