"""Text signals from emails, call notes and meeting descriptions: one shared definition.

The scoring features (competitor mentions, pricing discussions, contract review, budget
confirmation) and the risk detectors both read these. Patterns are deliberately broad
sales-English, not tuned to any one org's wording; competitor names are org configuration.
CRM text is untrusted input: it is only ever matched, never executed or obeyed.

By default the patterns are combined with a small learned classifier (`text_classifier.py`),
which catches wordings the patterns miss and vetoes pattern hits it is confident are wrong;
`TextSignals(use_classifier=False)` gives the patterns alone.
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
    """Compiled patterns; `competitors` are the org's competitor names (matched as words).

    With `use_classifier` (default) each signal is the pattern gated with the classifier;
    competitor names always count, since the classifier never saw this org's names.
    """

    competitors: tuple[str, ...] = ()
    use_classifier: bool = True

    def _pattern(self, signal: str) -> str:
        if signal != "competitor" or not self.competitors:
            return _PATTERNS[signal]
        return rf"(?:{_PATTERNS['competitor']}|{self._names()})"

    def _names(self) -> str:
        names = "|".join(re.escape(n) for n in sorted(self.competitors, key=len, reverse=True))
        return rf"\b(?:{names})\b"

    def compiled(self, signal: str) -> re.Pattern[str]:
        if signal not in _PATTERNS:
            raise ValueError(f"unknown text signal {signal!r}; valid: {', '.join(SIGNALS)}")
        return re.compile(self._pattern(signal), re.IGNORECASE)

    def detect(self, texts: pd.Series, signals: Sequence[str] = SIGNALS) -> pd.DataFrame:
        """One boolean column per signal, aligned with `texts` (missing text: all False)."""
        for signal in signals:
            self.compiled(signal)  # unknown names fail before any work
        values = texts.fillna("").astype(str).tolist()
        # The patterns are lowercase, so searching lowercased text without IGNORECASE finds
        # the same matches about twice as fast (tests compare the two).
        lowered = [v.lower() for v in values]
        out = {s: _search(re.compile(_PATTERNS[s]), lowered) for s in signals}
        if self.use_classifier and values and signals:
            out = _gated(values, out)
        if "competitor" in out and self.competitors:
            names = _search(re.compile(self._names().lower()), lowered)
            out["competitor"] = out["competitor"] | names
        return pd.DataFrame(out, index=texts.index)

    def quotes(self, text: str, signal: str, width: int = 80) -> Iterable[str]:
        """Short quotes around each match (evidence for humans); nothing when `detect` would
        not flag the text. A classifier-only flag yields its most telling sentence."""
        pattern = self.compiled(signal)
        if self.use_classifier and not self.detect(pd.Series([text]), [signal])[signal].iloc[0]:
            return
        matched = False
        for match in pattern.finditer(text or ""):
            matched = True
            start, end = (
                max(0, match.start() - width // 2),
                min(len(text), match.end() + width // 2),
            )
            yield " ".join(text[start:end].split())
        if not matched and self.use_classifier:
            from dealcast.risk.text_classifier import default_classifier

            evidence = default_classifier().evidence(text, signal, width)
            if evidence:
                yield evidence


def _search(pattern: re.Pattern[str], values: list[str]) -> np.ndarray:
    return np.fromiter(
        (pattern.search(t) is not None for t in values), dtype=bool, count=len(values)
    )


def _gated(values: list[str], hits: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    # Imported here, not at the top: text_classifier imports this module, and callers that
    # only want the patterns should not pay for loading scikit-learn.
    from dealcast.risk.text_classifier import default_classifier

    model = default_classifier()
    signals = list(hits)
    columns = [SIGNALS.index(s) for s in signals]
    proba = model.proba(values)[:, columns]
    flags = model.decide(proba, np.column_stack([hits[s] for s in signals]), signals)
    flags[np.array([not v.strip() for v in values], dtype=bool)] = False
    return {s: flags[:, j] for j, s in enumerate(signals)}
