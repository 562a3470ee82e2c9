"""Ground truth written beside the export, in `_truth/`: what really drove each deal.

Drivers are cut at `today`: a milestone after `today` has not happened yet in the export and
is left empty. A risk is "true at T" when its start is at or before T (and, for ghosting and
stalls, T is before the recorded end, if any).
"""

from __future__ import annotations

from typing import Any

from dealcast.crm.demo import names as nm
from dealcast.crm.demo.latent import Plan
from dealcast.crm.demo.lifecycle import WON, Life

SEGMENTS = ("smb", "mid_market", "enterprise")

DEALS_HEADER = (
    "OpportunityId", "is_deleted", "segment", "outcome", "closed_at", "eventual_outcome",
    "eventual_close_at", "engagement", "ghosting", "ghost_start", "ghost_end",
    "budget_confirmed_at", "dm_engaged_at", "competitor", "competitor_first_at",
    "price_friction", "pricing_first_at", "stalled", "stall_start", "stall_end",
    "single_threaded", "slips",
)  # fmt: skip
DEALS_DATETIMES = (4, 6, 9, 10, 11, 12, 14, 16, 18, 19)
INJECTIONS_HEADER = ("EmailMessageId", "OpportunityId", "variant", "text")
DUPLICATES_HEADER = ("ContactId", "DuplicateOfId", "Email", "DuplicateEmail")


def truth_row(p: Plan, i: int, life: Life, closed: bool) -> tuple[Any, ...]:
    cutoff = p.cutoff

    def seen(ts: int) -> int | None:
        return ts if ts < cutoff else None

    def flag(ts: int) -> str:
        return "true" if ts < cutoff else "false"

    last_ts, stage = life.rows[-1][0], life.rows[-1][1]
    outcome = ("won" if stage == WON else "lost") if closed else "open"
    comp_at = p.comp_at[i]
    return (
        p.opp_ids[i],
        "true" if p.deleted[i] else "false",
        SEGMENTS[p.segment[i]],
        outcome,
        last_ts if closed else None,
        "won" if p.won[i] else "lost",
        last_ts if closed else p.end[i],
        f"{p.engagement[i]:.3f}",
        flag(p.ghost_start[i]),
        seen(p.ghost_start[i]),
        seen(p.ghost_end[i]),
        seen(p.budget_at[i]),
        seen(p.dm_at[i]),
        nm.COMPETITORS[p.competitor[i]] if comp_at < cutoff else "",
        seen(comp_at),
        flag(p.pricing_at[i]),
        seen(p.pricing_at[i]),
        flag(p.stall_start[i]),
        seen(p.stall_start[i]),
        seen(p.stall_end[i]),
        "true" if p.single[i] else "false",
        life.slips,
    )


README = """\
# Demo org ground truth

This folder sits beside a synthetic Salesforce Data Export produced by
`dealcast.crm.demo.generate_demo_org` (seed {seed}, scale {scale:g}, today {today}). The
export (`*.csv` one level up) is what a customer would upload; these files hold what the
simulator knows and the CRM does not. Benchmarks use them to score risk detectors and
forecasts at any as-of time T: a driver is "true at T" when its start is at or before T
(for ghosting and stalls, also before the recorded end when there is one). Never feed
these files to a model.

All times are UTC, formatted like the export (`2025-03-04T15:20:00.000Z`). Everything in
the export happened before `today` 00:00 UTC; drivers that would start later are empty.

## The process

{process}

## deals.csv (one row per opportunity, deleted ones included)

- `OpportunityId`: Opportunity.Id in the export.
- `is_deleted`: the opportunity (with its history, roles and activities) has
  IsDeleted=true; leave it out of metrics.
- `segment`: smb, mid_market or enterprise; sets deal size, cycle length and the size of
  the buying group.
- `outcome`: won / lost / open as of `today` (matches StageName in the export).
- `closed_at`: when the deal closed (its last history row); empty while open.
- `eventual_outcome`: the simulator's outcome. For open deals this is the hidden future:
  use it to score forecasts, never as a feature.
- `eventual_close_at`: when the deal closes or closed; after `today` for open deals.
- `engagement`: latent buyer engagement in [0, 1]; drives activity volume, reply rates,
  tone, speed and win probability.
- `ghosting`: the champion (the primary contact) stopped replying before `today`.
- `ghost_start`: from then on the champion sends no email, takes no call (the rep leaves
  voicemails) and attends no meeting, while the rep chases by email and phone.
- `ghost_end`: the champion came back (only in deals that were eventually won); empty =
  silent to the end, or still silent.
- `budget_confirmed_at`: budget approval (an inbound email or a call note says so);
  empty = never confirmed.
- `dm_engaged_at`: a Decision Maker / Economic Buyer is engaged: contact role created and
  an executive meeting held; empty = never.
- `competitor`: the competitor in the deal, by name; empty = none (or not mentioned yet).
- `competitor_first_at`: first mention of the competitor by name, in an inbound email or
  a call note; the name never appears earlier.
- `price_friction`: the buyer pushed back on price before `today`.
- `pricing_first_at`: first discount request or price objection; one to three amount
  cuts follow in OpportunityHistory.
- `stalled`: the deal stopped progressing before `today`.
- `stall_start`: no stage progress from then on; activity decays, the buyer says
  priorities shifted, the rep often stops updating the close date (it goes overdue).
- `stall_end`: the deal got moving again (only in deals eventually won); empty = stalled
  to the end, or still stalled.
- `single_threaded`: only one buyer contact (the champion) ever engages; such deals have
  no decision-maker access.
- `slips`: close-date pushes (CloseDate moved later by the rep) before `today`.

## injections.csv

Inbound emails that contain prompt-injection text (for safety tests): EmailMessage Id,
opportunity, variant number and the injected sentence. The text is inert data.

## duplicates.csv

Contacts entered twice: the duplicate's Id, the original's Id and both email spellings
(they differ only in case or surrounding whitespace).
"""
