"""Who on the buying side is (still) engaged: ghost_contacts and single_threaded.

An attempt is an email we sent to a contact or a call to them that went unanswered; a
reply is anything the contact took part in (an inbound email from them, a meeting or a
call that connected). A chase is an attempt that itself says the contact went quiet: a
voicemail, or an email in chase wording ("I haven't heard back"). The champion is the
primary contact role; a deal without one uses the contact with the most replies.
"""

from __future__ import annotations

import pandas as pd

from dealcast.risk.context import RiskContext
from dealcast.risk.context_text import NO_ANSWER
from dealcast.risk.detectors_common import (
    MAX_EVIDENCE,
    Detected,
    activity_evidence,
    ago,
    by_deal,
    days,
    days_since,
    rows,
    thin_deals,
    when,
    ymd,
)
from dealcast.risk.models import Evidence, Risk

# Ghosting. Unanswered emails alone are weak evidence (people ignore email for a week or
# two); an unanswered call on top of an email is a chase, and five unanswered attempts are
# one either way. On the demo org, 3-4 unanswered emails alone were as often a busy buyer
# as a ghosting one.
GHOST_MIN_ATTEMPTS_WITH_CALL = 2
GHOST_MIN_ATTEMPTS = 5
GHOST_MIN_DAYS = 7  # a burst of emails over a few days is not silence
# A chase states the silence outright, so it counts sooner than counting attempts does:
# two unanswered chases, or one left unanswered for GHOST_CHASE_DAYS (most people answer
# within two working days). This catches ghosting in its first week or two, while the
# attempt counts above need three or more weeks of chasing.
GHOST_MIN_CHASES = 2
GHOST_CHASE_DAYS = 3
# Single-threaded: a deal's first contact is normally alone for its first two weeks while
# discovery is booked; colleagues join from there. On the demo org, half of the added
# colleagues took a week or more to first engage, one in ten over six weeks, so a listed
# but silent colleague is an open thread, not a missing one.
SINGLE_GRACE_DAYS = 14
# Severity: the champion silent for three weeks, or through six attempts, is high.
GHOST_HIGH_DAYS = 21
GHOST_HIGH_ATTEMPTS = 6


def champions(ctx: RiskContext) -> pd.Series:
    """OpportunityId -> champion ContactId (primary role, else most replies)."""
    roles = ctx.roles[ctx.roles["IsPrimary"].astype(bool)]
    primary = roles.drop_duplicates("OpportunityId").set_index("OpportunityId")["ContactId"]
    replies = ctx.activities[ctx.activities["Meaningful"]].dropna(subset=["ContactId"])
    counts = replies.groupby(["OpportunityId", "ContactId"]).size().rename("n").reset_index()
    top = counts.sort_values(["n", "ContactId"], ascending=[False, True])
    busiest = top.drop_duplicates("OpportunityId").set_index("OpportunityId")["ContactId"]
    return primary.combine_first(busiest)


def silent_contacts(ctx: RiskContext) -> pd.DataFrame:
    """Per (deal, contact): unanswered attempts since the contact's last reply."""
    acts = ctx.activities
    replies = acts[acts["Meaningful"]].dropna(subset=["ContactId"])
    last_reply = replies.groupby(["OpportunityId", "ContactId"])["Known"].max()
    emails = ctx.recipients.merge(acts[["Id", "Known", "Chase"]], on="Id")
    calls = acts.loc[acts["NoAnswer"], ["Id", "OpportunityId", "ContactId", "Known"]]
    calls = calls.dropna(subset=["ContactId"]).assign(Call=True, Chase=True)
    attempts = pd.concat([emails.assign(Call=False), calls], ignore_index=True)
    attempts = attempts.join(last_reply.rename("LastReply"), on=["OpportunityId", "ContactId"])
    attempts = attempts[attempts["LastReply"].isna() | (attempts["Known"] > attempts["LastReply"])]
    attempts = attempts.assign(ChaseAt=attempts["Known"].where(attempts["Chase"].astype(bool)))
    grouped = attempts.groupby(["OpportunityId", "ContactId"])
    out = grouped.agg(
        Attempts=("Id", "size"),
        Calls=("Call", "sum"),
        Chases=("Chase", "sum"),
        First=("Known", "min"),
        FirstChase=("ChaseAt", "min"),
        LastReply=("LastReply", "first"),
    )
    out["Ids"] = grouped["Id"].agg(list)
    return out.reset_index()


def ghosting(ctx: RiskContext) -> pd.DataFrame:
    """Contacts that meet the ghosting rule (IsChampion marks the champion); deals too thin
    to judge are left out."""

    def build() -> pd.DataFrame:
        silent = silent_contacts(ctx)
        now = pd.Series(ctx.now, index=silent.index)
        counted = (silent["Attempts"] >= GHOST_MIN_ATTEMPTS) | (
            (silent["Calls"] >= 1) & (silent["Attempts"] >= GHOST_MIN_ATTEMPTS_WITH_CALL)
        )
        counted &= days(now, silent["First"]) >= GHOST_MIN_DAYS
        chased = (silent["Chases"] >= GHOST_MIN_CHASES) | (
            days(now, silent["FirstChase"]) >= GHOST_CHASE_DAYS
        )
        out = silent[counted | chased].copy()
        champ = out["OpportunityId"].map(champions(ctx))
        out["IsChampion"] = out["ContactId"].to_numpy() == champ.to_numpy()
        return out[~out["OpportunityId"].isin(thin_deals(ctx))]

    return ctx.cached("ghosting", build)


def detect_ghost_contacts(ctx: RiskContext) -> Detected:
    """Buyer contacts who stopped answering, the champion first (the hardest to replace).
    Severity: the champion silent for GHOST_HIGH_DAYS or through GHOST_HIGH_ATTEMPTS
    attempts is high, otherwise medium; without the champion, a silent Decision Maker or
    Economic Buyer is medium and anyone else low."""
    found = ghosting(ctx)
    dm = ctx.roles[ctx.roles["Role"].isin(ctx.dm_roles)]
    found = found.assign(
        IsDM=found.set_index(["OpportunityId", "ContactId"]).index.isin(
            dm.set_index(["OpportunityId", "ContactId"]).index
        )
    )
    # One risk per deal, about its most important silent contact.
    found = found.sort_values(["IsChampion", "IsDM", "Attempts"], ascending=False)
    acts = ctx.activities
    replies = by_deal(acts[acts["Meaningful"]], found["OpportunityId"])
    out: Detected = {}
    for deal, silent in by_deal(found).items():
        row = rows(silent.head(1))[0]
        contact = row["ContactId"]
        silent_days = days_since(ctx, row["First"])
        if row["IsChampion"]:
            loud = silent_days >= GHOST_HIGH_DAYS or row["Attempts"] >= GHOST_HIGH_ATTEMPTS
            severity, who = ("high" if loud else "medium"), "champion"
        else:
            severity, who = ("medium", "decision maker") if row["IsDM"] else ("low", "contact")
        since = f"since their last reply on {ymd(row['LastReply'])}"
        if pd.isna(row["LastReply"]):
            since = "and has never replied"
        message = (
            f"{ctx.contact_name(contact)} ({who}) has not answered {row['Attempts']} "
            f"attempts ({int(row['Calls'])} unanswered calls) over {silent_days:.0f} days, "
            f"{since}."
        )
        if len(silent) > 1:
            others = ", ".join(ctx.contact_name(c) for c in silent["ContactId"].iloc[1:])
            message += f" Also silent: {others}."
        tried = acts[acts["Id"].isin(row["Ids"])]
        evidence = activity_evidence(ctx, tried, limit=MAX_EVIDENCE - 1, pattern=NO_ANSWER)
        mine = replies.get(deal)
        if mine is not None:
            evidence += activity_evidence(ctx, mine[mine["ContactId"] == contact], limit=1)
        out[deal] = Risk("ghost_contacts", severity, message, tuple(evidence))
    return out


def detect_single_threaded(ctx: RiskContext) -> Detected:
    """One buyer-side person on the whole deal: nobody but them is listed in a contact role
    or has replied, met or taken a call. The contact roles state it outright, so thin
    deals are judged too (like no_decision_maker); a deal with nobody at all is
    insufficient data, not single-threaded. Deals younger than SINGLE_GRACE_DAYS are
    skipped. A listed colleague who has not engaged yet still counts as a second thread:
    the seller is reaching them (see SINGLE_GRACE_DAYS). Severity: high in a late stage
    (one person carries the signature), medium once past the first two stages, low
    before."""
    acts = ctx.activities
    engaged = acts[acts["Meaningful"]].dropna(subset=["ContactId"])
    people = pd.concat(
        [ctx.roles[["OpportunityId", "ContactId"]], engaged[["OpportunityId", "ContactId"]]]
    ).dropna()
    count = people.groupby("OpportunityId")["ContactId"].nunique()
    deals = ctx.deals
    old = deals["CreatedDate"] <= ago(ctx, SINGLE_GRACE_DAYS)
    single = deals["OpportunityId"].isin(count.index[count == 1]) & old
    touches = by_deal(engaged, deals.loc[single, "OpportunityId"])
    only = people.drop_duplicates("OpportunityId").set_index("OpportunityId")["ContactId"]
    listed = {str(r["OpportunityId"]): r for r in rows(ctx.roles.drop_duplicates("OpportunityId"))}
    out: Detected = {}
    for deal in rows(deals[single]):
        deal_id = str(deal["OpportunityId"])
        mine = touches.get(deal_id, engaged.iloc[0:0])
        who = ctx.contact_name(only[deal_id])
        if mine.empty:
            message = f"Only {who} is on the deal, and has not replied, met or taken a call yet."
        else:
            message = (
                f"Only {who} has engaged ({len(mine)} replies, calls or meetings); "
                "no one else is on the deal."
            )
        severity = "high" if deal["IsLate"] else "medium" if deal["StageIndex"] >= 2 else "low"
        evidence = activity_evidence(ctx, mine)
        role = listed.get(deal_id)
        if not evidence and role is not None:  # nobody engaged: the role is the evidence
            evidence = [
                Evidence(
                    "contact_role", str(role["Id"]), when(role["CreatedDate"]), str(role["Role"])
                )
            ]
        out[deal_id] = Risk("single_threaded", severity, message, tuple(evidence))
    return out
