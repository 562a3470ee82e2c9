"""Activities of one deal: emails, calls, meetings and to-dos, with their text.

Volume: touches arrive week by week as a Poisson process whose rate grows with engagement
and segment, rises in late stages, decays while the deal is stalled, and drops while the
champion is silent (ghosting; single-threaded deals go quiet entirely). A touch is an email
exchange (outbound, maybe an inbound reply, maybe a follow-up), a call, a meeting or a
to-do, on a topic chosen from the deal's stage and the drivers active at that moment.

Milestones leave explicit traces at their dates: the first competitor mention, the first
discount request, the budget approval, the meeting with the decision maker. During
ghosting the rep sends a chase sequence (emails and voicemails at growing intervals) that
gets no reply. Closed deals end with a signature or rejection message; open deals have
upcoming to-dos and sometimes a scheduled meeting.

Timing contract: a past activity's CreatedDate is at or after the moment it happened
(emails: CreatedDate = MessageDate; calls and meetings are logged afterwards); future
to-dos and meetings are created before `today`. Nothing is created at or after `today`.
"""

from __future__ import annotations

import math
from itertools import accumulate

from dealcast.crm.demo.acts_base import Acts, DealCtx
from dealcast.crm.demo.cal import work_ts
from dealcast.crm.demo.fmt import DAY, NEVER
from dealcast.crm.demo.lifecycle import stage_at

_BANDS: tuple[tuple[tuple[str, ...], tuple[float, ...]], ...] = tuple(
    (tuple(w), tuple(accumulate(v)))
    for w, v in (
        (("intro", "discovery", "scheduling", "checkin"), (3, 3, 2, 1)),
        (
            ("demo", "technical", "discovery", "scheduling", "checkin", "business_case"),
            (3, 2, 1, 2, 1, 1),
        ),
        (
            ("business_case", "technical", "security", "stakeholders", "scheduling", "checkin"),
            (3, 1, 2, 2, 1, 1),
        ),
        (
            ("proposal", "legal", "procurement", "security", "scheduling", "checkin"),
            (3, 3, 2, 1, 1, 1),
        ),
        (("discovery", "scheduling", "checkin", "demo"), (3, 2, 2, 1)),  # early, after intro
    )
)
_KINDS = ("email", "call", "meeting", "todo")
_KIND_CUM = tuple(accumulate((0.52, 0.2, 0.12, 0.16)))
_RATE = (1.8, 2.3, 2.9)  # touches per week at full engagement, by segment


def _topic(x: DealCtx, ts: int) -> str:
    s = x.s
    if x.ss <= ts < x.se and s.chance(0.5):
        return "stall"
    if x.pricing_at <= ts and s.chance(0.22):
        return "pricing"
    if x.comp_at <= ts and s.chance(0.16):
        return "competitor"
    st = stage_at(x.life, ts)
    if st >= 2 and ts < x.budget_at and s.chance(0.08):
        return "budget_pending"
    if ts >= x.budget_at and s.chance(0.04):
        return "budget_approved"
    early = 0 if ts < x.c + 21 * DAY else 4  # the intro band, then the post-intro one
    band = early if st <= 1 else 1 if st <= 3 else 2 if st <= 5 else 3
    topics, cum = _BANDS[band]
    return s.weighted(topics, cum)


def _touch(x: DealCtx, acts: Acts, ts: int) -> None:
    s = x.s
    roles = [r for r in x.roles if r.joined <= ts and not x.silent(r, ts)]
    if not roles:
        acts.todo(x, ts, "ghost" if x.gs <= ts else "checkin")
        return
    champ = x.roles[0]
    role = champ if champ in roles and s.chance(0.45) else s.pick(roles)
    topic = _topic(x, ts)
    kind = s.weighted(_KINDS, _KIND_CUM)
    if kind == "call":
        acts.call(x, ts, role, topic)
    elif kind == "meeting":
        acts.meeting(x, ts, role, topic)
    elif kind == "todo":
        acts.todo(x, ts, topic)
    else:
        stalled = x.ss <= ts < x.se
        p_reply = (0.25 + 0.65 * x.e) * (0.4 if stalled else 1.0)
        if s.chance(0.15 * x.e):
            subject = acts.email_in(x, ts, role, topic)
            if subject and s.chance(0.6):
                acts.email_out(x, ts + 600 + int(s.expo(5 * 3600)), role, topic, subject)
            return
        others = [r for r in roles if r is not role]
        cc = s.pick(others) if others and s.chance(0.2) else None
        subject = acts.email_out(x, ts, role, topic, cc=cc)
        if subject and s.chance(p_reply):
            rt = ts + 600 + int(s.expo(18 * 3600))
            if s.chance(0.7):
                rt = max(rt, work_ts(rt))
            reply = None if x.silent(role, rt) else acts.email_in(x, rt, role, topic, subject)
            if reply and s.chance(0.35):
                acts.email_out(x, rt + 600 + int(s.expo(5 * 3600)), role, topic, reply)


def _milestones(x: DealCtx, acts: Acts) -> None:
    s = x.s
    roles = x.roles
    champ = roles[0]

    def contact_at(ts: int, dm_first: bool = False) -> int:
        live = [k for k, r in enumerate(roles) if r.joined <= ts and not x.silent(r, ts)]
        if dm_first:
            for k in live:
                if roles[k].is_dm:
                    return k
        return 0 if 0 in live or not live else s.pick(live)

    for at, topic in ((x.comp_at, "competitor"), (x.pricing_at, "pricing")):
        if at < x.stop:
            k = contact_at(at)
            if s.chance(0.68):
                acts.email_in(x, at, roles[k], topic)
            else:
                acts.call(x, at, roles[k], topic)
    if x.budget_at < x.stop:
        k = contact_at(x.budget_at, dm_first=True)
        if s.chance(0.6):
            acts.email_in(x, x.budget_at, roles[k], "budget_approved")
        else:
            acts.call(x, x.budget_at, roles[k], "budget_approved")
    dm_roles = [r for r in roles if r.is_dm]
    if dm_roles and x.dm_at < x.stop:
        acts.meeting(x, x.dm_at, dm_roles[0], "dm")
        if s.chance(0.5):
            acts.email_in(x, x.dm_at + int(s.uniform(600, 3 * 3600)), champ, "dm")
    if x.gs < x.stop:  # the chase sequence while the champion is silent
        t, gap = x.gs + int(s.uniform(2, 6) * DAY), s.uniform(3, 6) * DAY
        while t < min(x.ge, x.stop):
            ts = work_ts(t)
            if ts < min(x.ge, x.stop):
                if s.chance(0.75):
                    acts.email_out(x, ts, champ, "ghost")
                else:
                    acts.call(x, ts, champ, "ghost")
            gap *= 1.3
            t += int(gap)


def _closing(x: DealCtx, acts: Acts) -> None:
    s, end = x.s, x.end
    if end >= x.cutoff:
        return
    champ = x.roles[0]
    if x.won:
        dm = [r for r in x.roles if r.is_dm]
        acts.email_in(x, end - int(s.uniform(600, 4 * 3600)), dm[0] if dm else champ, "won")
        acts.todo(x, end - 60, "won")
        return
    if x.budget_at == NEVER and x.gs == NEVER and s.chance(0.35):
        ts = x.c + int((end - x.c) * s.uniform(0.6, 0.9))
        acts.email_in(x, ts, champ, "budget_frozen")
    if x.gs < end and x.ge == NEVER:  # ghosted to the end: the rep gives up
        acts.todo(x, end - 60, "lost")
        return
    ts = max(end - int(s.uniform(3600, 2 * DAY)), x.c + 3600)
    topic = "lost_competitor" if x.comp_at <= ts and s.chance(0.6) else "lost"
    if s.chance(0.7):
        acts.email_in(x, ts, champ, topic)
    else:
        acts.call(x, ts, champ, topic)


def _future(x: DealCtx, acts: Acts) -> None:
    s, cutoff = x.s, x.cutoff
    quiet = x.gs <= cutoff < x.ge or x.ss <= cutoff < x.se
    for p in (0.6, 0.25):
        if s.chance(p * (0.5 if quiet else 1.0)):
            due = cutoff // DAY + s.between(1, 14)
            made = max(x.c + 60, cutoff - int(s.uniform(3600, 6 * DAY)))
            topic = "ghost" if x.gs <= made < x.ge else _topic(x, made)
            acts.todo(x, made, topic, due=due)
    if not quiet and s.chance(0.3):
        start = work_ts((cutoff // DAY + s.between(1, 10)) * DAY + int(s.u() * DAY))
        made = max(x.c + 60, cutoff - int(s.uniform(3600, 5 * DAY)))
        acts.meeting(x, start, x.roles[-1], _topic(x, made), created=made)


def build_activities(x: DealCtx) -> Acts:
    acts = Acts()
    s = x.s
    rate = _RATE[x.seg] * (0.3 + 1.3 * x.e)
    single = len(x.roles) == 1
    t = x.c
    while t < x.stop:
        w_end = min(t + 7 * DAY, x.stop)
        r = rate * (w_end - t) / (7 * DAY)
        if stage_at(x.life, t) >= 6:
            r *= 1.35
        if x.ss <= t < x.se:
            r *= 0.25 * math.exp(-(t - x.ss) / (42 * DAY))
        if x.gs <= t < x.ge:
            r *= 0.0 if single else 0.35
        for _ in range(s.poisson(r)):
            ts = work_ts(t + int(s.u() * (w_end - t)))
            if ts < x.stop:
                _touch(x, acts, ts)
        t = w_end
    _milestones(x, acts)
    _closing(x, acts)
    if x.end >= x.cutoff:
        _future(x, acts)
    acts.inject_late(x)
    return acts
