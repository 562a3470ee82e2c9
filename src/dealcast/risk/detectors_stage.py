"""What a late-stage deal should have by now: no_decision_maker, budget_unconfirmed.

"Late" is the context's IsLate (stage probability >= LATE_STAGE_PROBABILITY); deals whose
stage at T is unknown are skipped (and reported as insufficient_data). Both checks read
the absence of something in the activity log, so on a deal with almost no activity they
only report what the CRM states outright: no Decision Maker role at all.
"""

from __future__ import annotations

from dealcast.risk.context import RiskContext
from dealcast.risk.context_text import BUDGET_TOPIC, affirmed
from dealcast.risk.detectors_common import (
    MAX_EVIDENCE,
    Detected,
    activity_evidence,
    ago,
    by_deal,
    entry_evidence,
    rows,
    thin_deals,
    when,
    where_text,
    ymd,
)
from dealcast.risk.models import Evidence, Risk

# Both: high once the stage is at commit-level probability (the forecast counts on it).
COMMIT_PROBABILITY = 90.0
# Budget trouble raised in the last quarter makes a missing approval high too.
BUDGET_TROUBLE_DAYS = 90


def _probability(ctx: RiskContext, stage: str) -> float:
    return next((s.probability for s in ctx.stages.stages if s.name == stage), 0.0)


def detect_no_decision_maker(ctx: RiskContext) -> Detected:
    """Late-stage deal where no Decision Maker / Economic Buyer has replied, met or taken a
    call. Severity: high at COMMIT_PROBABILITY, else medium."""
    dm = ctx.roles[ctx.roles["Role"].isin(ctx.dm_roles)]
    acts = ctx.activities
    met = acts[acts["Meaningful"]].merge(dm[["OpportunityId", "ContactId"]])
    engaged = set(met["OpportunityId"])
    listed_by = by_deal(dm)
    thin = thin_deals(ctx)
    out: Detected = {}
    for deal in rows(ctx.deals[ctx.deals["IsLate"] & ctx.deals["StateKnown"]]):
        deal_id, stage = str(deal["OpportunityId"]), str(deal["StageName"])
        if deal_id in engaged or (deal_id in thin and deal_id in listed_by):
            continue
        evidence = [entry_evidence(ctx, deal)]
        listed = listed_by.get(deal_id)
        if listed is None:
            message = f"In {stage} with no Decision Maker or Economic Buyer on the deal."
        else:
            names = ", ".join(
                f"{ctx.contact_name(r['ContactId'])} ({r['Role']})" for r in rows(listed)
            )
            message = f"In {stage}; {names} has not replied, met or taken a call."
            evidence += [
                Evidence("contact_role", str(r["Id"]), when(r["CreatedDate"]), str(r["Role"]))
                for r in rows(listed.head(MAX_EVIDENCE - 1))
            ]
        high = _probability(ctx, stage) >= COMMIT_PROBABILITY
        severity = "high" if high else "medium"
        out[deal_id] = Risk("no_decision_maker", severity, message, tuple(evidence))
    return out


def detect_budget_unconfirmed(ctx: RiskContext) -> Detected:
    """Late-stage deal with no stated budget approval, or with budget trouble stated since
    the last one. Clearing the risk takes an explicit, unhedged approval (see
    context_text.affirmed). Severity: high with trouble raised in the last
    BUDGET_TROUBLE_DAYS or at COMMIT_PROBABILITY, else medium."""
    acts = ctx.activities
    pattern = ctx.signals.compiled("budget_confirmed")
    confirmed = acts[acts["budget_confirmed"]]
    confirmed = where_text(confirmed, lambda t: affirmed(t, pattern, BUDGET_TOPIC))
    last_ok = confirmed.groupby("OpportunityId")["Known"].max()
    # Trouble must be stated ("budget freeze", "no budget"); a text flagged both ways is
    # ambiguous ("budget approved, but...") and does not count.
    risk_pattern = ctx.signals.compiled("budget_risk")
    trouble = acts[acts["budget_risk"] & ~acts["budget_confirmed"] & acts["Meaningful"]]
    trouble = where_text(trouble, lambda t: risk_pattern.search(t) is not None)
    trouble_by = by_deal(trouble)
    late = ctx.deals["IsLate"] & ctx.deals["StateKnown"]
    late &= ~ctx.deals["OpportunityId"].isin(thin_deals(ctx))
    out: Detected = {}
    for deal in rows(ctx.deals[late]):
        deal_id, stage = str(deal["OpportunityId"]), str(deal["StageName"])
        ok_at = last_ok.get(deal_id)
        mine = trouble_by.get(deal_id, trouble.iloc[0:0])
        after = mine if ok_at is None else mine[mine["Known"] > ok_at]
        if ok_at is not None and after.empty:
            continue
        fresh = after[after["Known"] > ago(ctx, BUDGET_TROUBLE_DAYS)]
        high = len(fresh) > 0 or _probability(ctx, stage) >= COMMIT_PROBABILITY
        if ok_at is None:
            message = f"In {stage} with no budget approval on record."
        else:
            message = f"Budget was approved on {ymd(ok_at)} but trouble was raised since."
        if len(after):
            message += f" {len(after)} budget concern(s) from the buyer."
        evidence = [entry_evidence(ctx, deal)]
        evidence += activity_evidence(ctx, after, "budget_risk", limit=MAX_EVIDENCE - 1)
        severity = "high" if high else "medium"
        out[deal_id] = Risk("budget_unconfirmed", severity, message, tuple(evidence))
    return out
