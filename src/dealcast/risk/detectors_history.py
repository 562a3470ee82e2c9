"""Risks read mostly from the deal's own history: stalled, close_date_slipped."""

from __future__ import annotations

import pandas as pd

from dealcast.risk.context import RiskContext
from dealcast.risk.context_text import ON_HOLD
from dealcast.risk.detectors_common import (
    MAX_EVIDENCE,
    Detected,
    activity_evidence,
    ago,
    by_deal,
    days,
    deal_evidence,
    entry_evidence,
    history_evidence,
    rows,
    thin_deals,
    ymd,
)
from dealcast.risk.detectors_engagement import ghosting
from dealcast.risk.models import Evidence, Risk

# Stalled, "quiet": two weeks without the buyer taking part and at most two touches of any
# kind in the last month, so both sides went quiet (one-sided chasing is ghosting). A
# healthy deal in the demo org has a buyer touch every few days and 10+ touches a month.
QUIET_DAYS = 14
QUIET_WINDOW_DAYS = 30
QUIET_MAX_TOUCHES = 2
# Stalled, "stuck": longer in the stage than 90 % of the org's completed spells in it (the
# org's own history, not a constant), with no buyer touch for a week and little else going
# on. A stage needs MIN_SPELLS completed spells before its 90th percentile is trusted.
STUCK_QUANTILE = "p90"
STUCK_QUIET_DAYS = 7
STUCK_MAX_TOUCHES = 2
MIN_SPELLS = 20
# Stalled, "on hold": someone wrote that the deal is paused ("priorities have shifted",
# "on hold until next quarter") since it entered its current stage, and the buyer has not
# taken part STALL_REVIVED_TOUCHES times since (then it is moving again). Silence takes
# weeks to show a stall; the words are there from its first days.
STALL_REVIVED_TOUCHES = 3
# Stalled, "omitted": the owner took the open deal out of the forecast (forecast category
# Omitted): their own judgement that it is not progressing.
OMITTED = "Omitted"
# Severity: twice the p90 or two months without the buyer is high; the p90, a month, or
# an on-hold statement or omitted forecast, medium; otherwise low.
STALL_HIGH_RATIO, STALL_HIGH_QUIET, STALL_MEDIUM_QUIET = 2.0, 60, 30

# Close date: high at 3+ pushes, 90+ days pushed in all or 30+ days overdue; medium at 2
# pushes or any overdue; a single push is low.
SLIP_HIGH_PUSHES, SLIP_HIGH_DAYS, SLIP_HIGH_OVERDUE = 3, 90, 30


def on_hold(ctx: RiskContext) -> pd.DataFrame:
    """Per deal: its latest on-hold statement since entering its current stage (activity
    rows), left out when the buyer took part STALL_REVIVED_TOUCHES times after it."""
    acts = ctx.activities
    deals = ctx.deals.set_index("OpportunityId")
    entered = deals["StageEnteredAt"].where(deals["StateKnown"]).rename("Entered")
    said = acts[acts["OnHold"]].join(entered, on="OpportunityId")
    said = said[said["Known"] >= said["Entered"]].drop(columns="Entered")
    latest = said.groupby("OpportunityId").tail(1)  # activities are sorted by Known
    at = latest[["OpportunityId", "Known"]].rename(columns={"Known": "Said"})
    after = acts[acts["Meaningful"]].merge(at, on="OpportunityId")
    revived = after[after["Known"] > after["Said"]].groupby("OpportunityId").size()
    touches = revived.reindex(latest["OpportunityId"]).fillna(0).to_numpy()
    return latest[touches < STALL_REVIVED_TOUCHES].reset_index(drop=True)


def stall_measures(ctx: RiskContext) -> pd.DataFrame:
    """Per open deal: Quiet (days since the buyer took part), Recent (touches in the last
    QUIET_WINDOW_DAYS), InStage (days), Typical (the org's p90 for the stage), Thin,
    OnHold (an on-hold statement stands, see `on_hold`), Omitted (forecast category)."""
    deals = ctx.deals.set_index("OpportunityId")
    acts = ctx.activities
    last = acts[acts["Meaningful"]].groupby("OpportunityId")["Known"].max()
    since = last.reindex(deals.index).fillna(deals["CreatedDate"])
    window = acts[acts["Known"] > ago(ctx, QUIET_WINDOW_DAYS)]
    stats = ctx.stage_days
    typical = stats[STUCK_QUANTILE].where(stats["spells"] >= MIN_SPELLS)
    now = pd.Series(ctx.now, index=deals.index)
    return pd.DataFrame(
        {
            "Quiet": days(now, since),
            "Recent": window.groupby("OpportunityId").size().reindex(deals.index).fillna(0),
            "InStage": days(now, deals["StageEnteredAt"]).where(deals["StateKnown"]),
            "Typical": deals["StageName"].map(typical),
            "Thin": deals.index.isin(list(thin_deals(ctx))),
            "OnHold": deals.index.isin(on_hold(ctx)["OpportunityId"]),
            "Omitted": deals["ForecastCategoryName"].eq(OMITTED) & deals["StateKnown"],
        }
    )


def detect_stalled(ctx: RiskContext) -> Detected:
    """Stuck in the stage well past the org's typical time, gone quiet on both sides, said
    to be on hold since the last stage change, or omitted from the forecast by its owner.
    When the champion is ghosting, silence and stage time are reported as ghost_contacts
    instead (that silence has a more specific cause); an on-hold statement or an omitted
    forecast still counts. Severity: see STALL_* above."""
    m = stall_measures(ctx)
    ratio = m["InStage"] / m["Typical"]
    quiet = ~m["Thin"] & (m["Quiet"] >= QUIET_DAYS) & (m["Recent"] <= QUIET_MAX_TOUCHES)
    calm = (m["Quiet"] >= STUCK_QUIET_DAYS) & (m["Recent"] <= STUCK_MAX_TOUCHES)
    stuck = (ratio >= 1.0) & (m["Thin"] | calm)
    ghosted = set(ghosting(ctx).query("IsChampion")["OpportunityId"])
    silent = (quiet | stuck) & ~m.index.isin(list(ghosted))
    flagged = silent | m["OnHold"] | m["Omitted"]
    acts = by_deal(ctx.activities, m.index[flagged])
    said = on_hold(ctx).set_index("OpportunityId")
    measures = m.assign(Ratio=ratio, Silent=silent).to_dict("index")
    out: Detected = {}
    for deal in rows(ctx.deals[ctx.deals["OpportunityId"].isin(m.index[flagged])]):
        deal_id = str(deal["OpportunityId"])
        this = measures[deal_id]
        r, q, thin = float(this["Ratio"]), float(this["Quiet"]), bool(this["Thin"])
        severity, parts = "low", []
        if this["Silent"]:
            if r >= STALL_HIGH_RATIO or (not thin and q >= STALL_HIGH_QUIET):
                severity = "high"
            elif r >= 1.0 or (not thin and q >= STALL_MEDIUM_QUIET):
                severity = "medium"
            if r >= 1.0:
                parts.append(
                    f"{this['InStage']:.0f} days in {deal['StageName']} (90 % of the "
                    f"org's deals moved on within {this['Typical']:.0f})"
                )
            if not thin:
                parts.append(
                    f"no reply, meeting or call for {q:.0f} days and "
                    f"{int(this['Recent'])} touches in the last {QUIET_WINDOW_DAYS}"
                )
        evidence = [entry_evidence(ctx, deal)]
        if this["OnHold"]:
            statement = said.loc[[deal_id]]
            parts.append(
                f"on hold since {ymd(statement['Known'].iloc[0])}, with no stage change since"
            )
            evidence += activity_evidence(ctx, statement, limit=1, pattern=ON_HOLD)
        if this["Omitted"]:
            parts.append("its owner has omitted it from the forecast")
        if this["OnHold"] or this["Omitted"]:
            severity = "medium" if severity == "low" else severity
        mine = acts.get(deal_id)
        if mine is not None:
            shown = {e.id for e in evidence}
            mine = mine[~mine["Id"].isin(shown)]
            evidence += activity_evidence(ctx, mine[mine["Meaningful"]], limit=1)
            rest = MAX_EVIDENCE - len(evidence)
            evidence += activity_evidence(ctx, mine[~mine["Meaningful"]], limit=rest)
        message = "Stalled: " + "; ".join(parts) + "."
        out[deal_id] = Risk("stalled", severity, message, tuple(evidence))
    return out


def detect_close_date_slipped(ctx: RiskContext) -> Detected:
    """Close date pushed later (count and days, from history) or passed while still open."""
    hist = ctx.history.sort_values(["OpportunityId", "CreatedDate", "Id"], kind="stable")
    same = hist["OpportunityId"].eq(hist["OpportunityId"].shift())
    before = hist["CloseDate"].shift()
    pushed = days(hist["CloseDate"], before).where(same)
    pushes = by_deal(hist.assign(Before=before, Pushed=pushed)[pushed > 0])
    today = ctx.now.normalize()
    out: Detected = {}
    for deal in rows(ctx.deals[ctx.deals["StateKnown"]]):
        deal_id = str(deal["OpportunityId"])
        mine = pushes.get(deal_id)
        count = 0 if mine is None else len(mine)
        total = 0 if mine is None else int(mine["Pushed"].sum())
        close = deal["CloseDate"]
        overdue: int = 0 if pd.isna(close) else (today - pd.Timestamp(close)).days
        if count == 0 and overdue <= 0:
            continue
        parts = [f"pushed {count} time(s), {total} days in all"] if count else []
        if overdue > 0:
            parts.append(f"close date {ymd(close)} passed {overdue} days ago")
        severity = "low"
        if count >= SLIP_HIGH_PUSHES or total >= SLIP_HIGH_DAYS or overdue >= SLIP_HIGH_OVERDUE:
            severity = "high"
        elif count >= 2 or overdue > 0:
            severity = "medium"
        evidence: list[Evidence] = []
        if mine is not None:
            for row in rows(mine.sort_values("CreatedDate", ascending=False).head(4)):
                quote = f"CloseDate {ymd(row['Before'])} -> {ymd(row['CloseDate'])}"
                evidence.append(history_evidence(row, f"{quote} (+{int(row['Pushed'])} days)"))
        if overdue > 0:
            evidence.append(deal_evidence(ctx, deal, f"CloseDate {ymd(close)}, still open"))
        message = "Close date slipping: " + "; ".join(parts) + "."
        out[deal_id] = Risk("close_date_slipped", severity, message, tuple(evidence))
    return out
