"""Risks read from what the buyer says (text signals) and from amount history:
pricing_pressure, competitor_threat, negative_sentiment.

Buyer-side text is an inbound email or the notes of a meeting or a connected call (the
`Meaningful` activities): our own outbound emails and to-dos say what we want, not what
the buyer thinks.
"""

from __future__ import annotations

import re

import pandas as pd

from dealcast.risk.context import RiskContext
from dealcast.risk.context_text import names_pattern
from dealcast.risk.detectors_common import (
    MAX_EVIDENCE,
    Detected,
    Row,
    activity_evidence,
    ago,
    body_first,
    by_deal,
    days_since,
    history_evidence,
    quote_for,
    rows,
    thin_deals,
    when,
    window,
    ymd,
)
from dealcast.risk.models import Evidence, Risk

RECENT_DAYS = 30  # "recent" for severity and tone: about one step of a buying cycle
OLD_DAYS = 90  # evidence older than a quarter no longer describes the deal well

# Pricing: two buyer-side price mentions, or one plus an amount cut, or two cuts. One
# mention alone is routine (every deal talks price once). A mention counts when the pricing
# phrase is in the text (`pricing_stated`: quotable); a text that names a competitor is a
# competitive comparison and counts for competitor_threat instead.
PRICE_MIN_MENTIONS = 2
PRICE_MIN_CUTS = 2
AMOUNT_CUT_MIN = 0.001  # ignore rounding in amount edits
PRICE_HIGH_CUT = 0.15  # 15 % below the peak amount is a real concession
PRICE_HIGH_MENTIONS = 3

# Competitors: any mention of a known competitor name (configured or discovered), or
# generic competitive language ("other vendors", "shortlist") in two buyer-side texts:
# once can be a figure of speech.
COMPETITOR_MIN_GENERIC = 2

# Tone = positive - negative per buyer text, in [-1, 1]. Flag when the last 30 days average
# at most -1/3 (clearly more negative than positive) over 2+ texts, and a quarter point
# below the 30-120 day baseline when there is one ("trending down"). Negative words alone
# are not enough: engaged buyers also describe their problems.
TONE_BASELINE_DAYS = 120
TONE_MIN_TEXTS = 2
TONE_MAX = -1 / 3
TONE_DROP = 0.25
TONE_HIGH_NEGATIVES, TONE_MEDIUM_NEGATIVES = 3, 2


def amount_cuts(ctx: RiskContext) -> pd.DataFrame:
    """History rows that lowered the amount, with Before and the Peak so far."""
    hist = ctx.history.sort_values(["OpportunityId", "CreatedDate", "Id"], kind="stable")
    same = hist["OpportunityId"].eq(hist["OpportunityId"].shift())
    before = hist["Amount"].shift()
    cut = same & (hist["Amount"] < before * (1 - AMOUNT_CUT_MIN))
    peak = hist.groupby("OpportunityId")["Amount"].cummax()
    return hist.assign(Before=before, Peak=peak)[cut]


def _severity(ctx: RiskContext, latest: pd.Timestamp, strong: bool, very: bool = False) -> str:
    """low when the latest evidence is older than OLD_DAYS; high when `very`, or `strong`
    with evidence in the last RECENT_DAYS; else medium."""
    age = days_since(ctx, latest)
    if age > OLD_DAYS:
        return "low"
    return "high" if very or (strong and age <= RECENT_DAYS) else "medium"


def detect_pricing_pressure(ctx: RiskContext) -> Detected:
    """Discount requests and price objections in buyer-side text, and amount cuts.
    Severity: high with a cut of PRICE_HIGH_CUT from the peak, or PRICE_HIGH_MENTIONS
    mentions with one in the last RECENT_DAYS; low when all evidence is older than
    OLD_DAYS; else medium."""
    acts = ctx.activities
    said = by_deal(acts[acts["Meaningful"] & acts["pricing_stated"] & ~acts["Named"]])
    cut = by_deal(amount_cuts(ctx))
    out: Detected = {}
    for deal_id in sorted(set(said) | set(cut)):
        mentions = said.get(deal_id, acts.iloc[0:0])
        cuts = cut.get(deal_id, ctx.history.iloc[0:0])
        n, k = len(mentions), len(cuts)
        if not (n >= PRICE_MIN_MENTIONS or (n >= 1 and k >= 1) or k >= PRICE_MIN_CUTS):
            continue
        drop = float((1 - cuts["Amount"] / cuts["Peak"]).max()) if k else 0.0
        latest = pd.concat([mentions["Known"], cuts["CreatedDate"]]).max()
        severity = _severity(ctx, latest, n >= PRICE_HIGH_MENTIONS, drop >= PRICE_HIGH_CUT)
        parts = [f"{n} buyer-side price or discount mention(s)"] if n else []
        if k:
            parts.append(f"amount cut {k} time(s), now {drop:.0%} below its peak")
        evidence = activity_evidence(ctx, mentions, "pricing", limit=MAX_EVIDENCE - min(k, 2))
        for row in rows(cuts.sort_values("CreatedDate", ascending=False).head(2)):
            quote = f"Amount {row['Before']:,.0f} -> {row['Amount']:,.0f}"
            evidence.append(history_evidence(row, quote))
        message = "Pricing pressure: " + "; ".join(parts) + "."
        out[deal_id] = Risk("pricing_pressure", severity, message, tuple(evidence))
    return out


def detect_competitor_threat(ctx: RiskContext) -> Detected:
    """Competitors named in emails or notes (or generic competitive language, twice).
    Severity by the latest mention: high within RECENT_DAYS with 2+ mentions, medium within
    OLD_DAYS, low before."""
    acts = ctx.activities
    generic = acts["Meaningful"] & acts["competitor_stated"]
    counts = acts[generic].groupby("OpportunityId").size()
    keep = set(acts.loc[acts["Named"], "OpportunityId"])
    keep |= set(counts.index[counts >= COMPETITOR_MIN_GENERIC])
    hits = by_deal(acts[(acts["Named"] | generic) & acts["OpportunityId"].isin(keep)])
    names = names_pattern(ctx.competitors)
    out: Detected = {}
    for deal_id, found in hits.items():
        found = found.sort_values(["Known", "Id"], ascending=False)
        who = {m for t in found["Text"] for m in (names.findall(t) if names else [])}
        latest = found["Known"].max()
        message = (
            f"Competition: {', '.join(sorted(who)) or 'another vendor'} mentioned in "
            f"{len(found)} email(s) or note(s), latest {ymd(latest)}."
        )
        evidence = tuple(_named(ctx, names, r) for r in rows(found.head(MAX_EVIDENCE)))
        severity = _severity(ctx, latest, len(found) >= 2)
        out[deal_id] = Risk("competitor_threat", severity, message, evidence)
    return out


def _named(ctx: RiskContext, names: re.Pattern[str] | None, row: Row) -> Evidence:
    text = str(row["Text"])
    match = body_first(names, text) if names else None
    quote = window(text, match) if match else quote_for(ctx, text, "competitor", row["Subject"])
    return Evidence(str(row["Kind"]), str(row["Id"]), when(row["Happened"]), quote)


def detect_negative_sentiment(ctx: RiskContext) -> Detected:
    """The buyer's recent texts lean negative and worse than before (see TONE_*).
    Severity by recent negative texts: TONE_HIGH_NEGATIVES high, TONE_MEDIUM_NEGATIVES
    medium, else low."""
    acts = ctx.activities
    buyer = acts[acts["Meaningful"]]
    buyer = buyer.assign(Tone=buyer["positive"].astype(int) - buyer["negative"].astype(int))
    is_recent = buyer["Known"] > ago(ctx, RECENT_DAYS)
    recent = buyer[is_recent]
    earlier = buyer[~is_recent & (buyer["Known"] > ago(ctx, TONE_BASELINE_DAYS))]
    baseline = earlier.groupby("OpportunityId")["Tone"].mean()
    now = recent.groupby("OpportunityId").agg(
        Texts=("Tone", "size"), Tone=("Tone", "mean"), Negatives=("negative", "sum")
    )
    now["Before"] = baseline.reindex(now.index)
    worse = now["Before"].isna() | (now["Tone"] <= now["Before"] - TONE_DROP)
    hit = (now["Negatives"] > 0) & (now["Texts"] >= TONE_MIN_TEXTS) & (now["Tone"] <= TONE_MAX)
    hit &= worse & ~now.index.isin(list(thin_deals(ctx, need_buyer_touches=True)))
    negative = by_deal(recent[recent["negative"]], now.index[hit])
    stats = now.to_dict("index")
    out: Detected = {}
    for deal_id, negatives in negative.items():
        this = stats[deal_id]
        tone, before, texts = float(this["Tone"]), this["Before"], int(this["Texts"])
        n = len(negatives)
        severity = "low"
        if n >= TONE_HIGH_NEGATIVES:
            severity = "high"
        elif n >= TONE_MEDIUM_NEGATIVES:
            severity = "medium"
        trend = "" if pd.isna(before) else f", down from {float(before):+.2f} before"
        message = (
            f"Buyer tone {tone:+.2f} over the last {RECENT_DAYS} days{trend} "
            f"({n} of {texts} buyer messages negative)."
        )
        evidence = tuple(activity_evidence(ctx, negatives, "negative"))
        out[deal_id] = Risk("negative_sentiment", severity, message, evidence)
    return out
