"""LLM text signals: structured output per text, falling back to the rules + classifier.

Each text goes in its own request (run concurrently), so an instruction hidden in one email
can at most change that email's own eight flags: there is no shared context to poison and
the output schema has no field for anything else (extra fields are rejected). Any failure
(no LLM configured, timeout, HTTP error, malformed or refused output) falls back to
`TextSignals` for the affected texts, and the result's notes say so.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, ConfigDict

from dealcast.llm.chat import build_chat
from dealcast.prompts.text_signals import TEXT_SIGNALS_SYSTEM, TEXT_SIGNALS_TAG, TEXT_SIGNALS_USER
from dealcast.risk.text_patterns import SIGNALS, TextSignals

log = logging.getLogger(__name__)
MAX_QUOTES = 2
MAX_QUOTE_CHARS = 200
_TAG = re.compile(rf"<\s*/?\s*{TEXT_SIGNALS_TAG}\b", re.IGNORECASE)

SignalName = Literal[
    "pricing",
    "competitor",
    "budget_confirmed",
    "budget_risk",
    "contract_review",
    "scheduling",
    "negative",
    "positive",
]


class Evidence(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signal: SignalName
    quote: str


class TextSignalOutput(BaseModel):
    """What the model must return for one text: the eight flags and verbatim evidence."""

    model_config = ConfigDict(extra="forbid")
    pricing: bool
    competitor: bool
    budget_confirmed: bool
    budget_risk: bool
    contract_review: bool
    scheduling: bool
    negative: bool
    positive: bool
    evidence: list[Evidence]


@dataclass(frozen=True)
class TextAnalysis:
    flags: dict[str, bool]
    evidence: dict[str, list[str]]  # signal -> short quotes (only for flagged signals)
    source: Literal["llm", "rules"]


@dataclass(frozen=True)
class AnalysisResult:
    items: list[TextAnalysis]
    notes: list[str]  # empty when every text was analysed by the LLM

    def frame(self) -> pd.DataFrame:
        """One row per text: the eight flags and `source`."""
        rows = [{**item.flags, "source": item.source} for item in self.items]
        return pd.DataFrame(rows, columns=[*SIGNALS, "source"])


class TextSignalAnalyzer:
    def __init__(
        self,
        chat: BaseChatModel | None,
        rules: TextSignals | None = None,
        max_concurrency: int = 4,
    ) -> None:
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {max_concurrency}")
        self.chat = chat
        self.rules = rules or TextSignals()
        self.max_concurrency = max_concurrency

    @classmethod
    def from_settings(cls, rules: TextSignals | None = None) -> TextSignalAnalyzer:
        return cls(build_chat(), rules)

    def analyze(self, texts: Sequence[str]) -> AnalysisResult:
        texts = [t or "" for t in texts]
        if not texts:
            return AnalysisResult([], [])
        if self.chat is None:
            note = "no LLM configured: used the rules + classifier for every text"
            return AnalysisResult(self._rules(texts), [note])
        outputs = self._ask(texts)
        items: list[TextAnalysis | None] = [
            _from_llm(t, o) if isinstance(o, TextSignalOutput) else None
            for t, o in zip(texts, outputs, strict=True)
        ]
        failed = [i for i, item in enumerate(items) if item is None]
        notes = []
        if failed:
            fallback = self._rules([texts[i] for i in failed])
            for i, item in zip(failed, fallback, strict=True):
                items[i] = item
            reasons = Counter(_reason(outputs[i]) for i in failed)
            why = ", ".join(f"{r} x{n}" for r, n in sorted(reasons.items()))
            notes.append(
                f"LLM failed for {len(failed)} of {len(texts)} texts ({why}): "
                "used the rules + classifier for them"
            )
            log.warning(notes[-1])
        return AnalysisResult([i for i in items if i is not None], notes)

    def _ask(self, texts: list[str]) -> list[object]:
        try:
            assert self.chat is not None
            chain = self.chat.with_structured_output(TextSignalOutput, method="json_schema")
            return list(
                chain.batch(
                    [_messages(t) for t in texts],
                    config={"max_concurrency": self.max_concurrency},
                    return_exceptions=True,
                )
            )
        except Exception as exc:  # any failure means the rules answer: see module docstring
            return [exc] * len(texts)

    def _rules(self, texts: list[str]) -> list[TextAnalysis]:
        flags = self.rules.detect(pd.Series(texts))
        items = []
        for text, row in zip(texts, flags.itertuples(index=False), strict=True):
            on = {s: bool(getattr(row, s)) for s in SIGNALS}
            evidence = {s: list(self.rules.quotes(text, s))[:MAX_QUOTES] for s in SIGNALS if on[s]}
            items.append(TextAnalysis(on, evidence, "rules"))
        return items


def _messages(text: str) -> list[BaseMessage]:
    # A text that closes the tag itself must not escape it.
    safe = _TAG.sub(lambda m: m.group(0).replace("<", "‹"), text)
    return [
        SystemMessage(TEXT_SIGNALS_SYSTEM),
        HumanMessage(TEXT_SIGNALS_USER.format(text=safe)),
    ]


def _from_llm(text: str, out: TextSignalOutput) -> TextAnalysis:
    flags = {s: bool(getattr(out, s)) for s in SIGNALS}
    haystack = " ".join(text.split()).lower()
    evidence: dict[str, list[str]] = {s: [] for s in SIGNALS if flags[s]}
    for item in out.evidence:
        quote = " ".join(item.quote.split())
        # Only verbatim quotes are evidence; a model can paraphrase or invent.
        kept = evidence.get(item.signal)
        if kept is not None and quote and quote.lower() in haystack and len(kept) < MAX_QUOTES:
            kept.append(quote[:MAX_QUOTE_CHARS])
    return TextAnalysis(flags, evidence, "llm")


def _reason(output: object) -> str:
    if isinstance(output, BaseException):
        return type(output).__name__
    return "no structured output" if output is None else f"unexpected {type(output).__name__}"
