"""Who on the buying side is (still) engaged: ghost_contacts and single_threaded.

An attempt is an email we sent to a contact or a call to them that went unanswered; a
reply is anything the contact took part in (an inbound email from them, a meeting or a
call that connected). The champion is the primary contact role; a deal without one uses
the contact with the most replies.
"""

from __future__ import annotations

import pandas as pd

from dealcast.risk.context import RiskContext
from dealcast.risk.context_text import NO_ANSWER
from dealcast.risk.detectors_common import (
    MAX_EVIDENCE,
    Detected,
    activity_evidence,
    by_deal,
    days,
    days_since,
    rows,
    thin_deals,
    ymd,
)
from dealcast.risk.models import Risk

# Ghosting. Unanswered emails alone are weak evidence (people ignore email for a week or
# two); an unanswered call on top of an email is a chase, and five unanswered attempts are
# one either way. On the demo org, 3-4 unanswered emails alone were as often a busy buyer
# as a ghosting one.
GHOST_MIN_ATTEMPTS_WITH_CALL = 2
GHOST_MIN_ATTEMPTS = 5
GHOST_MIN_DAYS = 7  # a burst of emails over a few days is not silence
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
    emails = ctx.recipients.merge(acts[["Id", "Known"]], on="Id")
    calls = acts.loc[acts["NoAnswer"], ["Id", "OpportunityId", "ContactId", "Known"]]
    attempts = pd.concat(
        [emails.assign(Call=False), calls.dropna(subset=["ContactId"]).assign(Call=True)],
        ignore_index=True,
    ).join(last_reply.rename("LastReply"), on=["OpportunityId", "ContactId"])
    attempts = attempts[attempts["LastReply"].isna() | (attempts["Known"] > attempts["LastReply"])]
    grouped = attempts.groupby(["OpportunityId", "ContactId"])
    out = grouped.agg(
        Attempts=("Id", "size"),
        Calls=("Call", "sum"),
        First=("Known", "min"),
        LastReply=("LastReply", "first"),
    )
    out["Ids"] = grouped["Id"].agg(list)
    return out.reset_index()


def ghosting(ctx: RiskContext) -> pd.DataFrame:
    """Contacts that meet the ghosting rule (IsChampion marks the champion); deals too thin
    to judge are left out."""

    def build() -> pd.DataFrame:
        silent = silent_contacts(ctx)
        span = days(pd.Series(ctx.now, index=silent.index), silent["First"])
        rule = (silent["Attempts"] >= GHOST_MIN_ATTEMPTS) | (
            (silent["Calls"] >= 1) & (silent["Attempts"] >= GHOST_MIN_ATTEMPTS_WITH_CALL)
        )
        out = silent[rule & (span >= GHOST_MIN_DAYS)].copy()
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
    """Only one buyer contact has ever replied, met or taken a call. Severity: high in a
    late stage (one person carries the signature), medium once past the first two stages,
    low before."""
    acts = ctx.activities
    engaged = acts[acts["Meaningful"]].dropna(subset=["ContactId"])
    people = engaged.groupby("OpportunityId")["ContactId"].nunique()
    single = {str(d) for d in people.index[people == 1]} - thin_deals(ctx, True)
    touches = by_deal(engaged[engaged["OpportunityId"].isin(single)])
    listed = ctx.roles.groupby("OpportunityId")["ContactId"].nunique()
    out: Detected = {}
    for deal in rows(ctx.deals[ctx.deals["OpportunityId"].isin(single)]):
        deal_id = str(deal["OpportunityId"])
        mine = touches[deal_id]
        others = int(listed.get(deal_id, 0)) - 1
        tail = (
            f"; {others} other contact(s) on the deal have not engaged"
            if others > 0
            else "; no one else is on the deal"
        )
        severity = "high" if deal["IsLate"] else "medium" if deal["StageIndex"] >= 2 else "low"
        who = ctx.contact_name(mine["ContactId"].iloc[0])
        message = f"Only {who} has engaged ({len(mine)} replies, calls or meetings){tail}."
        evidence = tuple(activity_evidence(ctx, mine))
        out[deal_id] = Risk("single_threaded", severity, message, evidence)
    return out
