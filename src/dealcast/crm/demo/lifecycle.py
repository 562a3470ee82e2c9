"""One deal's field history: stage path, close-date slips, amount changes, overrides.

The deal's whole life is simulated (up to its resolution, even if that is after `today`)
and then cut at `today`, so an open deal's history is a true prefix of its future.

- Stages: start at Prospecting (or Qualification), move forward through the open stages
  (each intermediate stage skipped with 15 % chance, an occasional regression by one or two
  stages), during "active" time only: no progress while the buyer is silent (ghosting) or the
  deal is stalled. Won deals reach Negotiation/Review (sometimes Proposal) before closing;
  lost deals stop at an earlier stage and end Closed Lost.
- Close date: set optimistically at creation, usually to a month or quarter end. When it
  comes close (or has passed), the rep pushes it: to the next quarter end when it was in the
  last three weeks of a quarter, else by a few weeks. Reps of stalled deals often stop
  updating, leaving it overdue. At the close, CloseDate becomes the actual date.
- Amount: a scope change in 18 % of deals (-25 % to +35 %); price friction brings one to
  three discounts of 5-20 % within ~10 weeks of the first objection; 15 % of wins get a
  small procurement discount (2-8 %) just before signing. 2 % of open deals have no amount.
- Probability / forecast category follow the stage, except rep overrides (reset at the next
  stage change); stalled deals are sometimes marked Omitted.
"""

from __future__ import annotations

from dataclasses import dataclass

from dealcast.crm.demo.cal import (
    day_hours,
    month_end,
    next_workday,
    prev_workday,
    quarter_end,
    work_ts,
)
from dealcast.crm.demo.fmt import DAY, NEVER
from dealcast.crm.demo.latent import Plan
from dealcast.crm.demo.rand import Stream
from dealcast.crm.stages import STANDARD_STAGES

STAGE_NAMES = [st.name for st in STANDARD_STAGES.stages]
PROB = [round(st.probability) for st in STANDARD_STAGES.stages]
FCAST = [st.forecast_category for st in STANDARD_STAGES.stages]
N_OPEN = len(STANDARD_STAGES.open_stages)
WON, LOST = STAGE_NAMES.index("Closed Won"), STAGE_NAMES.index("Closed Lost")
_LOST_TOP = (0.16, 0.36, 0.54, 0.68, 0.78, 0.86, 0.94, 1.0)
_STAGE, _CLOSE, _AMOUNT, _OVERRIDE, _FINAL = range(5)

HistRow = tuple[int, int, int | None, int, int, str, int]  # ts stage amount close p fc by


@dataclass(slots=True)
class Life:
    rows: list[HistRow]  # history up to `today`, strictly increasing in time
    stage_ts: list[int]  # full-life stage changes (creation first), for `stage_at`
    stage_val: list[int]
    slips: int  # close-date pushes before `today`


def active_intervals(start: int, stop: int, quiet: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans = [(start, stop)]
    for qa, qb in quiet:
        nxt = []
        for a, b in spans:
            if qb <= a or qa >= b:
                nxt.append((a, b))
                continue
            if a < qa:
                nxt.append((a, qa))
            if qb < b:
                nxt.append((qb, b))
        spans = nxt
    return spans


def place(s: Stream, spans: list[tuple[int, int]], k: int) -> list[int]:
    """k sorted random instants within the spans (uniform over their total length)."""
    total = sum(b - a for a, b in spans)
    if k == 0 or total <= 0:
        return []
    points = sorted(s.u() * total for _ in range(k))
    out, j, offset = [], 0, 0.0
    for x in points:
        while j < len(spans) - 1 and x >= offset + spans[j][1] - spans[j][0]:
            offset += spans[j][1] - spans[j][0]
            j += 1
        out.append(spans[j][0] + int(x - offset))
    return out


def _moves(s: Stream, s0: int, top: int) -> list[int]:
    moves: list[int] = []
    for k in range(s0 + 1, top + 1):
        if k < top and s.chance(0.15):
            continue
        moves.append(k)
        if 3 <= k < top and s.chance(0.07):
            moves += [k - 1 - s.below(2), k]
    return moves


def _round_close(s: Stream, day: int) -> int:
    """Reps like month and quarter ends for close dates."""
    r = s.u()
    if r < 0.35:
        return prev_workday(month_end(day))
    if r < 0.7:
        return prev_workday(quarter_end(day))
    return next_workday(day)


def _new_close(s: Stream, cur: int, review_day: int) -> int:
    if quarter_end(cur) - cur < 21 and s.chance(0.7):
        new = prev_workday(quarter_end(quarter_end(cur) + 1) - s.below(15))
    else:
        new = _round_close(s, cur + s.between(14, 45))
    return new if new >= review_day + 10 else next_workday(review_day + 10 + s.below(20))


def simulate(p: Plan, i: int, s: Stream) -> Life:
    c, end, span, won = p.created[i], p.end[i], p.span[i], p.won[i]
    gs, ge, ss, se = p.ghost_start[i], p.ghost_end[i], p.stall_start[i], p.stall_end[i]
    quiet = [(gs, min(ge, end)), (ss, min(se, end))]
    if won:
        prog_end = max(c + (end - c) // 2, end - int(s.uniform(0.02, 0.12) * span))
        top = N_OPEN - 1 if s.chance(0.85) else N_OPEN - 2
    else:
        base = min(gs, ss, end)
        prog_end = c + int((base - c) * s.uniform(0.6, 0.95))
        # Without decision-maker access a lost deal rarely gets past Perception Analysis.
        reach = N_OPEN if p.dm_at[i] < NEVER else 6
        top = s.weighted(range(reach), _LOST_TOP[:reach])
    s0 = 0 if s.chance(0.7) else 1
    top = max(top, s0)
    spans = active_intervals(c + 3600, prog_end, quiet)
    moves = _moves(s, s0, top)
    times = [day_hours(t) for t in place(s, spans, len(moves))]
    events: list[tuple[int, int, int]] = [(t, _STAGE, m) for t, m in zip(times, moves, strict=True)]
    stage_ts = [c] + [e[0] for e in events]
    stage_val = [s0, *moves]

    # Close date: optimistic estimate, then pushes as it approaches or passes.
    c_day = c // DAY
    close0 = _round_close(s, c_day + max(7, int(span * s.uniform(0.5, 1.0)) // DAY))
    cur, last, n_push = close0, c, 0
    while n_push < 14:
        review = cur * DAY + int(s.uniform(-10, 12) * DAY)
        review = work_ts(max(review, last + DAY))
        if review >= end:
            break
        if ss <= review < se and s.chance(0.65):  # the rep of a stalled deal stops updating
            if se == NEVER:
                break
            last = se
            continue
        cur = _new_close(s, cur, review // DAY)
        events.append((review, _CLOSE, cur))
        last, n_push = review, n_push + 1

    if not p.null_amount[i]:
        active = active_intervals(c + DAY, end - DAY, quiet)
        if s.chance(0.18):
            for t in place(s, active, 1):
                events.append((day_hours(t), _AMOUNT, -int(s.uniform(0.75, 1.35) * 1000)))
        pa = p.pricing_at[i]
        if pa < NEVER:
            k = 1 + (s.u() > 0.5) + (s.u() > 0.7)
            window = [(pa + DAY, min(end - DAY, pa + 70 * DAY))]
            for t in place(s, window, k):
                events.append((day_hours(t), _AMOUNT, int(s.uniform(0.05, 0.2) * 1000)))
        if won and s.chance(0.15) and end - c > 20 * DAY:
            t = work_ts(end - int(s.uniform(2, 10) * DAY))
            events.append((t, _AMOUNT, int(s.uniform(20, 80))))
    if s.chance(0.15):
        for t in place(s, active_intervals(c + DAY, end - DAY, quiet), 1):
            events.append((day_hours(t), _OVERRIDE, 0))
    if ss < end and s.chance(0.35):
        t = work_ts(ss + int(s.uniform(10, 40) * DAY))
        if t < se:
            events.append((t, _OVERRIDE, 1))
    events = [e for e in events if e[0] < end]
    events.append((end, _FINAL, WON if won else LOST))
    events.sort()
    return _history(p, i, s, events, close0, s0, stage_ts, stage_val)


def _history(
    p: Plan,
    i: int,
    s: Stream,
    events: list[tuple[int, int, int]],
    close0: int,
    s0: int,
    stage_ts: list[int],
    stage_val: list[int],
) -> Life:
    c, cutoff = p.created[i], p.cutoff
    owner, owner2, switch = p.owner[i], p.owner2[i], p.switch[i]
    manager = p.users.manager[owner]
    amount: int | None = None if p.null_amount[i] else p.amount0[i]
    step = (500, 1000, 5000)[p.segment[i]]
    stage, close, prob, fc = s0, close0, PROB[s0], FCAST[s0]
    rows: list[HistRow] = [(c, stage, amount, close, prob, fc, owner)]
    slips, last = 0, c
    for ts, kind, val in events:
        ts = max(ts, last + 60)
        if ts >= cutoff:
            break
        by = owner2 if ts >= switch else owner
        if kind in (_STAGE, _FINAL):
            if kind == _STAGE and stage >= N_OPEN:
                continue
            stage, prob, fc = val, PROB[val], FCAST[val]
            if kind == _FINAL:
                close = ts // DAY
        elif kind == _CLOSE:
            if val <= close:
                continue
            close, slips = val, slips + 1
        elif kind == _AMOUNT:
            if amount is None:
                continue
            if val < 0:  # scope change: factor in thousandths
                amount = max(step, round(amount * -val / 1000 / step) * step)
            else:  # discount in thousandths
                amount = max(100, int(round(amount * (1 - val / 1000), -2)))
        elif val == 1:  # stalled: the rep marks it Omitted
            prob, fc = 10, "Omitted"
        elif 2 <= stage < N_OPEN:
            if s.chance(0.5):
                prob = min(95, max(5, PROB[stage] + s.pick((-20, -10, 10, 15))))
            else:
                fc = "Commit" if 4 <= stage <= 6 else "Best Case"
            if s.chance(0.3) and manager is not None:
                by = manager
        else:
            continue
        rows.append((ts, stage, amount, close, prob, fc, by))
        last = ts
    return Life(rows, stage_ts, stage_val, slips)


def stage_at(life: Life, ts: int) -> int:
    st = life.stage_val[0]
    for t, v in zip(life.stage_ts, life.stage_val, strict=True):
        if t > ts:
            break
        st = v
    return st
