"""The latent process: what is secretly true about each deal, and how it ends.

Drawn for all deals at once with numpy (e = engagement, "span" = the deal's nominal cycle):

- Deals are created over the three years before `today` on weekdays in business hours; the
  creation rate grows linearly to 2.5 times its initial level (a growing company). About
  30 % are repeat business with an account that already had a deal; the rest open a new
  account (created 3-120 days before).
- Segment, 50 / 33 / 17 % SMB / mid-market / enterprise, sets the deal size (median amount
  14k / 48k / 170k, upsells 40 % smaller), the cycle (median span 65 / 130 / 240 days,
  shorter for engaged buyers) and the size of the buying group.
- Drivers, drawn per deal:
  engagement e ~ Beta(2.2, 2), nudged by the owner's skill;
  ghosting with probability 0.05 + 0.34 (1 - e), starting 15-75 % into the span;
  stall with probability 0.05 + 0.26 (1 - e), starting 20-70 % into the span;
  single-threaded when the account has no staff contact besides the champion (about a
  third of SMB accounts), else with probability 15 / 24 / 12 % by segment (more when e
  is low) — about 42 / 24 / 12 % in all;
  competitor with probability 30-46 % (by segment), first named 3-60 % into the span;
  price friction with probability 18-48 % (higher with a competitor), from 30-85 %;
  budget confirmed with probability 0.25 + 0.6 e, at 20-75 %;
  decision-maker access with probability 0.2 + 0.65 e (never when single-threaded), 25-80 %.
- Outcome: won with probability sigmoid(b + 2.4 (e - 0.5) - 2.0 ghosting - 1.6 stall
  - 0.7 single-threaded - 0.5 competitor - 0.9 price friction + 1.0 budget + 1.2 decision
  maker + 0.5 existing customer + 0.2 rep skill), with b solved so that 25 % are won.
- Resolution: won deals close after 92-110 % of the span, plus the length of a ghosting or
  stall they recovered from (won deals recover after ~18 / ~45 days). Lost deals end ~55
  days after ghosting starts, ~110 days (heavy-tailed) after a stall starts, or else after
  45-165 % of the span. 55 % of wins and 30 % of losses are pulled into the last three
  weeks of the calendar quarter. Deals resolving after `today` are open in the export.
- Milestones (budget, decision maker, competitor, pricing) that would fall after the
  resolution are dropped; those falling while the buyer is silent (ghosting or stall) move
  to just after the silence ends, or are dropped when it never ends.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dealcast.crm.demo import names as nm
from dealcast.crm.demo.cal import next_workdays, quarter_ends, work_times
from dealcast.crm.demo.contacts import Contacts
from dealcast.crm.demo.fmt import DAY, NEVER
from dealcast.crm.demo.people import Accounts, Users

__all__ = ["Plan", "drivers"]

WIN_RATE = 0.25


@dataclass
class Plan:
    """Everything the per-deal simulation needs; per-deal fields are Python lists."""

    seed: int
    cutoff: int  # epoch seconds: `today` 00:00 UTC; everything in the export is before it
    pod: str
    users: Users
    user_ids: list[str]
    accounts: Accounts
    account_ids: list[str]
    contacts: Contacts
    contact_ids: list[str]
    opp_ids: list[str]
    account: list[int]
    owner: list[int]
    owner2: list[int]
    switch: list[int]
    segment: list[int]
    type_: list[str]
    lead_source: list[str]
    name: list[str]
    product: list[str]
    created: list[int]
    end: list[int]
    span: list[int]
    won: list[bool]
    engagement: list[float]
    ghost_start: list[int]
    ghost_end: list[int]
    stall_start: list[int]
    stall_end: list[int]
    budget_at: list[int]
    dm_at: list[int]
    comp_at: list[int]
    competitor: list[int]
    pricing_at: list[int]
    single: list[bool]
    amount0: list[int]
    null_amount: list[bool]
    deleted: list[bool]
    injection: list[int]

    @property
    def n(self) -> int:
        return len(self.created)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _intercept(logit: np.ndarray, target: float) -> float:
    lo, hi = -10.0, 10.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if float(_sigmoid(logit + mid).mean()) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def drivers(
    rng: np.random.Generator,
    created: np.ndarray,
    segment: np.ndarray,
    existing: np.ndarray,
    skill: np.ndarray,
    lone: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Latent drivers, outcome and resolution time for every deal (integer epoch seconds,
    NEVER where a milestone does not happen)."""
    n = len(created)
    u = rng.random((12, n))
    e = np.clip(rng.beta(2.2, 2.0, n) + 0.06 * skill, 0.02, 0.98)
    median = np.array([65.0, 130.0, 240.0])[segment]
    span_days = np.maximum(7.0, median * np.exp(0.5 * rng.standard_normal(n)) * (1.3 - 0.6 * e))
    span = (span_days * DAY).astype(np.int64)
    ghost = u[0] < 0.05 + 0.34 * (1 - e)
    stall = u[1] < 0.05 + 0.26 * (1 - e)
    single = u[2] < np.array([0.15, 0.24, 0.12])[segment] + 0.15 * (0.5 - e)
    if lone is not None:  # nobody but the champion to bring in (see roles.buying_group)
        single |= lone
    comp = u[3] < 0.3 + 0.08 * segment
    price = u[4] < 0.18 + 0.2 * comp + 0.05 * segment
    budget = u[5] < 0.25 + 0.6 * e
    dm = ~single & (u[6] < 0.2 + 0.65 * e)
    logit = (
        2.4 * (e - 0.5)
        - 2.0 * ghost
        - 1.6 * stall
        - 0.7 * single
        - 0.5 * comp
        - 0.9 * price
        + 1.0 * budget
        + 1.2 * dm
        + 0.5 * existing
        + 0.2 * skill
    )
    won = u[7] < _sigmoid(logit + _intercept(logit, WIN_RATE))

    def at(lo: float, hi: float, row: np.ndarray, mask: np.ndarray) -> np.ndarray:
        ts = work_times(created + ((lo + (hi - lo) * row) * span).astype(np.int64))
        return np.where(mask, ts, NEVER)

    r = rng.random((6, n))
    gs = at(0.15, 0.75, r[0], ghost)
    ss = at(0.2, 0.7, r[1], stall)
    budget_at = at(0.2, 0.75, r[2], budget)
    dm_at = at(0.25, 0.8, r[3], dm)
    comp_at = at(0.03, 0.6, r[4], comp)
    pricing_at = at(0.3, 0.85, r[5], price)
    lag = np.exp(0.5 * rng.standard_normal((4, n)))
    ge = np.where(won & ghost, gs + (18 * DAY * lag[0]).astype(np.int64), NEVER)
    se = np.where(won & stall, ss + (45 * DAY * lag[1]).astype(np.int64), NEVER)
    paused = np.where(ghost & won, ge - gs, 0) + np.where(stall & won, se - ss, 0)
    u2 = rng.random((4, n))
    end_won = created + ((0.92 + 0.18 * u2[0]) * span).astype(np.int64) + paused
    end_lost = np.where(
        ghost & stall,
        np.maximum(gs, ss) + (40 * DAY * lag[2]).astype(np.int64),
        np.where(
            ghost,
            gs + (55 * DAY * lag[2] ** 1.5).astype(np.int64),
            np.where(
                stall,
                ss + (110 * DAY * lag[3] ** 1.6).astype(np.int64),
                created + ((0.45 + 1.2 * u2[1]) * span).astype(np.int64),
            ),
        ),
    )
    end = np.maximum(np.where(won, end_won, end_lost), created + 2 * DAY)
    # Quarter-end bunching: many closes are pulled into the last 2-3 weeks of the quarter.
    day = end // DAY
    qend = quarter_ends(day)
    snap = (u2[2] < np.where(won, 0.55, 0.3)) & (day < qend - 20)
    snapped = qend - (u2[3] * 19).astype(np.int64)
    snapped = snapped - np.where((snapped + 3) % 7 >= 5, (snapped + 3) % 7 - 4, 0)
    day = np.where(snap, snapped, next_workdays(day))
    frac = rng.random(n)
    end = day * DAY + 13 * 3600 + (frac * 9 * 3600).astype(np.int64) // 60 * 60
    end = np.maximum(end, created + 2 * DAY)
    end = np.maximum(end, np.where(ghost, gs, 0) + 3600)
    end = np.maximum(end, np.where(stall, ss, 0) + 3600)
    ge = np.where(ge < NEVER, np.minimum(ge, end - 3600), ge)
    se = np.where(se < NEVER, np.minimum(se, end - 3600), se)

    # Milestones after the resolution, or while the buyer is silent, move or vanish.
    quiet_from = np.minimum(gs, ss)
    quiet_to = np.where(ghost & stall, np.maximum(ge, se), np.where(ghost, ge, se))
    out = {}
    for key, ts in (("budget_at", budget_at), ("dm_at", dm_at), ("comp_at", comp_at)):
        out[key] = _settle(ts, quiet_from, quiet_to, end, rng)
    out["pricing_at"] = _settle(pricing_at, quiet_from, quiet_to, end, rng)
    comp_idx = rng.choice(len(nm.COMPETITORS), n, p=np.array(nm.COMPETITOR_WEIGHTS))
    out.update(
        engagement=e,
        span=span,
        ghost_start=gs,
        ghost_end=ge,
        stall_start=ss,
        stall_end=se,
        single=single,
        won=won,
        end=end,
        competitor=np.where(out["comp_at"] < NEVER, comp_idx, -1),
    )
    return out


def _settle(
    ts: np.ndarray,
    quiet_from: np.ndarray,
    quiet_to: np.ndarray,
    end: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    quiet = (ts >= quiet_from) & (ts < quiet_to)
    resumed = work_times(quiet_to + (rng.random(len(ts)) * 5 * DAY).astype(np.int64) + DAY)
    moved = np.where(quiet, np.where(quiet_to < NEVER, resumed, NEVER), ts)
    return np.where(moved < end - 3600, moved, NEVER)
