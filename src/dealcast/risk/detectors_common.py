"""What every detector shares: evidence builders, per-deal lookups and data sufficiency.

Detectors take the RiskContext and return `{opportunity_id: Risk}` for the deals they flag.
Data sufficiency: a detector that reads activity cannot judge a deal with almost none; those
deals are skipped by it and reported once as `insufficient_data` (see detectors.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from dealcast.risk.context import RiskContext
from dealcast.risk.models import Evidence, Risk

MAX_EVIDENCE = 5  # enough to check a risk at a glance; the CRM has the rest
QUOTE_SIDE = 50  # characters of context either side of a matched phrase
# Fewer activities than this in a deal's whole life, and silence or sentiment are
# unknowable: three is the least that shows a pattern (an exchange and a follow-up).
MIN_ACTIVITIES = 3
# Threading and tone are judged from the buyer's side only: replies, meetings and calls
# that connected. Below three such touches one contact is all there could have been.
MIN_BUYER_TOUCHES = 3

Detected = dict[str, Risk]
Row = dict[str, Any]


def days(later: pd.Series, earlier: pd.Series | pd.Timestamp) -> pd.Series:
    """Elapsed days, element-wise (NaN where either side is missing)."""
    return (later - earlier).dt.total_seconds() / 86_400


def days_since(ctx: RiskContext, value: Any) -> float:
    return float((ctx.now - pd.Timestamp(value)).total_seconds() / 86_400)


def ago(ctx: RiskContext, n: float) -> pd.Timestamp:
    return ctx.now - pd.Timedelta(days=n)


def when(value: Any) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).to_pydatetime()


def ymd(value: Any) -> str:
    stamp = when(value)
    return stamp.strftime("%Y-%m-%d") if stamp else "unknown"


def rows(frame: pd.DataFrame) -> list[Row]:
    return [{str(k): v for k, v in r.items()} for r in frame.to_dict("records")]


def by_deal(frame: pd.DataFrame, only: Iterable[str] | None = None) -> dict[str, pd.DataFrame]:
    """Rows per deal (only for the `only` deals when given: grouping is the slow part)."""
    if only is not None:
        frame = frame[frame["OpportunityId"].isin(set(only))]
    return {str(k): g for k, g in frame.groupby("OpportunityId", sort=False)}


def where_text(frame: pd.DataFrame, test: Callable[[str], bool]) -> pd.DataFrame:
    """The rows whose Text passes `test` (columns kept even when none do)."""
    keep = np.fromiter((test(str(t)) for t in frame["Text"]), dtype=bool, count=len(frame))
    return frame[keep]


def body_first(pattern: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The first match in the body (after the subject line), else in the subject."""
    return pattern.search(text, text.find("\n") + 1) or pattern.search(text)


def window(text: str, match: re.Match[str]) -> str:
    start, end = max(0, match.start() - QUOTE_SIDE), match.end() + QUOTE_SIDE
    return " ".join(text[start:end].split())


def quote_for(
    ctx: RiskContext,
    text: str,
    signal: str | None,
    fallback: object,
    pattern: re.Pattern[str] | None = None,
) -> str:
    """A short quote around `pattern` or the signal's phrase, else whatever
    `TextSignals.quotes` offers (a flag can come from more than the phrase), else `fallback`
    (the subject). The text is already flagged, so the cheap pattern search goes first."""
    match = body_first(pattern, text) if pattern else None
    if match:
        return window(text, match)
    if signal:
        match = body_first(ctx.signals.compiled(signal), text)
        if match:
            return window(text, match)
        for quote in ctx.signals.quotes(text, signal):
            return quote
    return " ".join(str(fallback).split())


def activity_evidence(
    ctx: RiskContext,
    frame: pd.DataFrame,
    signal: str | None = None,
    limit: int = MAX_EVIDENCE,
    pattern: re.Pattern[str] | None = None,
) -> list[Evidence]:
    """Evidence from activity rows, most recent first, quoting `signal` or `pattern`."""
    if frame.empty or limit <= 0:
        return []
    latest = frame.iloc[np.lexsort((frame["Id"].to_numpy(), frame["Known"].to_numpy()))[::-1]]
    latest = latest.head(limit)
    return [
        Evidence(
            str(kind), str(id_), when(happened), quote_for(ctx, str(text), signal, subject, pattern)
        )
        for kind, id_, happened, text, subject in zip(
            latest["Kind"],
            latest["Id"],
            latest["Happened"],
            latest["Text"],
            latest["Subject"],
            strict=True,
        )
    ]


def history_evidence(row: Row, quote: str) -> Evidence:
    return Evidence(kind="history", id=str(row["Id"]), date=when(row["CreatedDate"]), quote=quote)


def deal_evidence(ctx: RiskContext, deal: Row, quote: str) -> Evidence:
    return Evidence(kind="opportunity", id=str(deal["OpportunityId"]), date=ctx.as_of, quote=quote)


def stage_entries(ctx: RiskContext) -> dict[str, Row]:
    """Per deal, the history row that started its current stage spell."""

    def build() -> dict[str, Row]:
        hist = ctx.history.sort_values(["OpportunityId", "CreatedDate", "Id"], kind="stable")
        same = hist["OpportunityId"].eq(hist["OpportunityId"].shift())
        starts = hist[~(same & hist["StageName"].eq(hist["StageName"].shift()))]
        last = starts.groupby("OpportunityId").tail(1)
        return {str(r["OpportunityId"]): r for r in rows(last)}

    return ctx.cached("stage_entries", build)


def entry_evidence(ctx: RiskContext, deal: Row) -> Evidence:
    """The history row where the deal entered its current stage (else the deal itself)."""
    entry = stage_entries(ctx).get(str(deal["OpportunityId"]))
    if entry is not None and entry["StageName"] == deal["StageName"]:
        return history_evidence(entry, f"moved to {entry['StageName']}")
    quote = f"in {deal['StageName']} since {ymd(deal['StageEnteredAt'])}"
    return deal_evidence(ctx, deal, quote)


def activity_counts(ctx: RiskContext) -> pd.DataFrame:
    """Per open deal: Activities (all known at T) and BuyerTouches (Meaningful ones)."""

    def build() -> pd.DataFrame:
        acts = ctx.activities
        index = pd.Index(ctx.deals["OpportunityId"])
        every = acts.groupby("OpportunityId").size().reindex(index).fillna(0)
        buyer = acts[acts["Meaningful"]].groupby("OpportunityId").size()
        frame = pd.DataFrame({"Activities": every, "BuyerTouches": buyer.reindex(index)})
        return frame.fillna(0).astype(int)

    return ctx.cached("activity_counts", build)


def thin_deals(ctx: RiskContext, need_buyer_touches: bool = False) -> set[str]:
    """Deals too thin in activity for an activity-based judgement."""
    counts = activity_counts(ctx)
    thin = counts["Activities"] < MIN_ACTIVITIES
    if need_buyer_touches:
        thin |= counts["BuyerTouches"] < MIN_BUYER_TOUCHES
    return {str(d) for d in counts.index[thin]}
