"""Risk detection: one detector per code, run over every open deal in a RiskContext.

`detect(context)` returns `{opportunity_id: [Risk, ...]}` for every open deal at T (an
empty list means no risk found), worst first. Thresholds live next to each detector as
named constants (detectors_engagement, _history, _stage, _text) with the reason
for each value. They are plain sales rules meant to hold on a real org, read only
point-in-time CRM data, and are checked against the demo org's latent labels on two
seeds (bench/risks.py).

Insufficient data: activity-based checks (ghost_contacts, negative_sentiment,
budget_unconfirmed, the silence side of stalled and the engagement side of
no_decision_maker) skip deals with fewer than MIN_ACTIVITIES activities (tone: fewer than
MIN_BUYER_TOUCHES buyer touches), and history-based checks skip deals whose state at T is
unknown. Such a deal gets one `insufficient_data` risk (severity low) saying what is
missing, instead of a guess. single_threaded reads the contact roles, which state who is
on the deal outright, so it also judges thin deals (like no_decision_maker).
"""

from __future__ import annotations

from collections.abc import Callable

from dealcast.risk.context import RiskContext
from dealcast.risk.detectors_common import (
    MAX_EVIDENCE,
    MIN_ACTIVITIES,
    MIN_BUYER_TOUCHES,
    Detected,
    activity_counts,
    activity_evidence,
    by_deal,
    deal_evidence,
    rows,
    ymd,
)
from dealcast.risk.detectors_engagement import detect_ghost_contacts, detect_single_threaded
from dealcast.risk.detectors_history import detect_close_date_slipped, detect_stalled
from dealcast.risk.detectors_stage import detect_budget_unconfirmed, detect_no_decision_maker
from dealcast.risk.detectors_text import (
    detect_competitor_threat,
    detect_negative_sentiment,
    detect_pricing_pressure,
)
from dealcast.risk.models import RISK_CODES, Risk

DETECTORS: dict[str, Callable[[RiskContext], Detected]] = {
    "stalled": detect_stalled,
    "ghost_contacts": detect_ghost_contacts,
    "pricing_pressure": detect_pricing_pressure,
    "single_threaded": detect_single_threaded,
    "no_decision_maker": detect_no_decision_maker,
    "close_date_slipped": detect_close_date_slipped,
    "competitor_threat": detect_competitor_threat,
    "budget_unconfirmed": detect_budget_unconfirmed,
    "negative_sentiment": detect_negative_sentiment,
}
ACTIVITY_CHECKS = (
    "ghost_contacts, negative_sentiment, budget_unconfirmed, stalled (silence) and "
    "no_decision_maker (engagement)"
)
TOUCH_CHECKS = "negative_sentiment"
STATE_CHECKS = (
    "close_date_slipped, no_decision_maker, budget_unconfirmed, stalled (stage time, "
    "on hold, forecast category)"
)


def detect(ctx: RiskContext) -> dict[str, list[Risk]]:
    """Every open deal at T -> its risks, worst first."""
    found: dict[str, list[Risk]] = {str(d): [] for d in ctx.deals["OpportunityId"]}
    for detector in (*DETECTORS.values(), detect_insufficient_data):
        for deal_id, risk in detector(ctx).items():
            found[deal_id].append(risk)
    for risks in found.values():
        risks.sort(key=lambda r: (-r.rank, RISK_CODES.index(r.code)))
    return found


def detect_insufficient_data(ctx: RiskContext) -> Detected:
    """One low-severity risk per deal whose data is too thin for some checks."""
    counts = activity_counts(ctx)
    thin = (counts["Activities"] < MIN_ACTIVITIES) | (counts["BuyerTouches"] < MIN_BUYER_TOUCHES)
    unknown = set(ctx.deals.loc[~ctx.deals["StateKnown"], "OpportunityId"])
    short = {str(d) for d in counts.index[thin]} | unknown
    acts = by_deal(ctx.activities, short)
    per_deal = counts.to_dict("index")
    out: Detected = {}
    for deal in rows(ctx.deals[ctx.deals["OpportunityId"].isin(short)]):
        deal_id = str(deal["OpportunityId"])
        n, touches = int(per_deal[deal_id]["Activities"]), int(per_deal[deal_id]["BuyerTouches"])
        missing = []
        if n < MIN_ACTIVITIES:
            missing.append(
                f"only {n} activities logged (need {MIN_ACTIVITIES}) to judge {ACTIVITY_CHECKS}"
            )
        elif touches < MIN_BUYER_TOUCHES:
            missing.append(
                f"only {touches} replies, meetings or calls with the buyer (need "
                f"{MIN_BUYER_TOUCHES}) to judge {TOUCH_CHECKS}"
            )
        if not deal["StateKnown"]:
            missing.append(
                "no stage history at or before T, so its stage and close date then are "
                f"unknown ({STATE_CHECKS} skipped)"
            )
        if not missing:
            continue
        evidence = [deal_evidence(ctx, deal, f"created {ymd(deal['CreatedDate'])}")]
        mine = acts.get(deal_id)
        if mine is not None:
            evidence += activity_evidence(ctx, mine, limit=MAX_EVIDENCE - 1)
        message = "Not enough data: " + "; ".join(missing) + "."
        out[deal_id] = Risk("insufficient_data", "low", message, tuple(evidence))
    return out
