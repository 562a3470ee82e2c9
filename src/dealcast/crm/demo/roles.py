"""The buying group of one deal: OpportunityContactRole rows and who can be contacted when.

The champion (a staff contact) is the primary role from the start. Unless the deal is
single-threaded, a first colleague (never procurement) joins within FIRST_COLLEAGUE_DAYS of
creation — so the plan's single-threaded flag is what the data shows, not a plan that never
materialised — more colleagues join over the first part of the cycle (evaluators,
technical buyers, influencers, business users), procurement or legal join once the deal
reaches Proposal/Price Quote, and an executive joins as Decision Maker or Economic Buyer at
the decision-maker milestone (`dm_at`), sometimes followed by a second executive. A deal
whose account has no staff contact besides the champion is planned single-threaded
(`latent.drivers`' `lone`), so a multi-threaded deal always has someone to bring in.
"""

from __future__ import annotations

from dataclasses import dataclass

from dealcast.crm.demo import names as nm
from dealcast.crm.demo.fmt import DAY, NEVER
from dealcast.crm.demo.latent import Plan
from dealcast.crm.demo.lifecycle import Life
from dealcast.crm.demo.rand import Stream

PROPOSAL_STAGE = 6
_OTHER_ROLES = ("Evaluator", "Influencer", "Business User", "Evaluator", "Other")
_CHAMPION_ROLES = ("Evaluator", "Influencer", "Business User")
_N_OTHERS = ((1, 1), (1, 2), (2, 4))
# Inside risk.detectors_engagement.SINGLE_GRACE_DAYS (14), the age before a deal is judged.
FIRST_COLLEAGUE_DAYS = (1.0, 10.0)


@dataclass(slots=True)
class Role:
    contact: int  # index into plan.contacts
    contact_id: str  # the Id this deal uses (a duplicate entry sometimes)
    role: str
    primary: bool
    joined: int  # epoch seconds: the role's CreatedDate
    is_dm: bool = False


def _title_role(title: str, s: Stream) -> str:
    if title in nm.TECH_TITLES:
        return "Technical Buyer"
    if title in nm.PROCUREMENT_TITLES:
        return "Other"
    return s.pick(_OTHER_ROLES)


def buying_group(p: Plan, i: int, life: Life, s: Stream) -> list[Role]:
    """Roles in order of joining; the champion is first. Only roles created before the
    deal's end (or `today`) are returned."""
    ct = p.contacts
    c, span = p.created[i], p.span[i]
    stop = min(p.end[i], p.cutoff)
    a = p.account[i]
    staff, execs = ct.staff[a], ct.execs[a]
    pool = list(staff) if staff else list(execs)

    def cid(contact: int) -> str:
        dup = ct.dup.get(contact)
        if dup is not None and ct.created[dup] <= c and s.chance(0.5):
            return p.contact_ids[dup]
        return p.contact_ids[contact]

    champ = pool.pop(s.below(len(pool)))
    title = ct.titles[champ]
    role = "Technical Buyer" if title in nm.TECH_TITLES else s.pick(_CHAMPION_ROLES)
    joined = min(c + int(s.uniform(60, 3 * 3600)), stop - 60)
    roles = [Role(champ, cid(champ), role, True, joined)]
    if p.single[i]:
        return roles
    lo, hi = _N_OTHERS[p.segment[i]]
    proposal_at = NEVER
    for t, v in zip(life.stage_ts, life.stage_val, strict=True):
        if v >= PROPOSAL_STAGE:
            proposal_at = t
            break
    others = s.sample(pool, s.between(lo, hi))
    # The first colleague to join is someone the champion works with, not procurement.
    others.sort(key=lambda o: ct.titles[o] in nm.PROCUREMENT_TITLES)
    for k, other in enumerate(others):
        title = ct.titles[other]
        if k == 0:
            when = c + int(s.uniform(*FIRST_COLLEAGUE_DAYS) * DAY)
        elif title in nm.PROCUREMENT_TITLES:
            when = proposal_at + int(s.uniform(1, 10) * DAY) if proposal_at < NEVER else NEVER
        else:
            when = c + int(s.uniform(0.05, 0.6) * span)
        roles.append(Role(other, cid(other), _title_role(title, s), False, when))
    dm_at = p.dm_at[i]
    if dm_at < NEVER and execs:
        chosen = s.sample(execs, 2)
        kind = "Decision Maker" if s.chance(0.55) else "Economic Buyer"
        roles.append(Role(chosen[0], cid(chosen[0]), kind, False, dm_at, True))
        if len(chosen) > 1 and p.segment[i] == 2 and s.chance(0.4):
            second = "Economic Buyer" if kind == "Decision Maker" else "Executive Sponsor"
            when = dm_at + int(s.uniform(2, 20) * DAY)
            roles.append(Role(chosen[1], cid(chosen[1]), second, False, when, True))
    roles = [r for r in roles if r.joined < stop]
    roles.sort(key=lambda r: r.joined)
    return roles
