"""Simulates a contiguous block of deals and renders their rows as CSV text.

Each chunk has its own random stream, derived from (seed, chunk index), so a chunk's output
does not depend on which process runs it or on the other chunks: the files are identical
whatever the number of worker processes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any

from dealcast.crm.demo import names as nm
from dealcast.crm.demo import phrases as ph
from dealcast.crm.demo.activities import build_activities
from dealcast.crm.demo.acts_base import Acts, DealCtx
from dealcast.crm.demo.cal import to_date
from dealcast.crm.demo.fmt import DAY, PER_DEAL, fmt_dates, fmt_datetimes, sf_ids
from dealcast.crm.demo.latent import Plan
from dealcast.crm.demo.lifecycle import N_OPEN, STAGE_NAMES, WON, Life, simulate
from dealcast.crm.demo.rand import SALT_CHUNK, Stream, derive
from dealcast.crm.demo.roles import Role, buying_group
from dealcast.crm.demo.text import Slots, Texts
from dealcast.crm.demo.truth import DEALS_DATETIMES, truth_row
from dealcast.crm.records import KEY_PREFIX

CHUNK_DEALS = 400
_FIRST = itemgetter(0)

# object -> (Id prefix or None when Ids are already strings, datetime columns, date columns)
FORMATS: dict[str, tuple[str | None, tuple[int, ...], tuple[int, ...]]] = {
    "Opportunity": (None, (15, 16, 18), (7, 17)),
    "OpportunityHistory": (KEY_PREFIX["OpportunityHistory"], (8,), (5,)),
    "OpportunityContactRole": (KEY_PREFIX["OpportunityContactRole"], (6,), ()),
    "Task": (KEY_PREFIX["Task"], (10,), (7,)),
    "Event": (KEY_PREFIX["Event"], (7, 8, 10), (9,)),
    "EmailMessage": (KEY_PREFIX["EmailMessage"], (7, 9), ()),
}
_NEXT_STEPS = (
    "Book discovery call with {first}",
    "Qualify budget and timeline with {first}",
    "Schedule demo for the wider team",
    "Send business case to {first}",
    "Get a meeting with the economic buyer",
    "Close out security review",
    "Review proposal with {first} and finance",
    "Finalize contract redlines and order form",
)


@dataclass
class ChunkResult:
    index: int
    csv: dict[str, str] = field(default_factory=dict)
    rows: dict[str, int] = field(default_factory=dict)
    truth: str = ""
    injections: str = ""
    won: int = 0
    lost: int = 0
    open: int = 0


def render(
    rows: Sequence[Sequence[Any]],
    pod: str,
    spec: tuple[str | None, tuple[int, ...], tuple[int, ...]],
) -> str:
    if not rows:
        return ""
    prefix, dt_cols, date_cols = spec
    cols: list[Sequence[Any]] = list(zip(*rows, strict=True))
    if prefix is not None:
        cols[0] = sf_ids(prefix, pod, cols[0])
    for k in dt_cols:
        cols[k] = fmt_datetimes(cols[k])
    for k in date_cols:
        cols[k] = fmt_dates(cols[k])
    buf = io.StringIO()
    csv.writer(buf, quoting=csv.QUOTE_MINIMAL).writerows(zip(*cols, strict=True))
    return buf.getvalue()


def _slots(p: Plan, i: int, roles: list[Role]) -> list[Slots]:
    ct, acc = p.contacts, p.accounts
    a = p.account[i]
    dm = next((r for r in roles if r.is_dm), None)
    comp = p.competitor[i]
    base = {
        "account": acc.names[a],
        "industry": (acc.industry[a] or "your industry").lower(),
        "product": p.product[i],
        "seats": str((5, 40, 250)[p.segment[i]] + p.amount0[i] // 2000),
        "amount": f"${p.amount0[i]:,}",
        "competitor": nm.COMPETITORS[comp] if comp >= 0 else "another vendor",
        "dm_first": ct.first[dm.contact] if dm else "our CFO",
        "dm_title": ct.titles[dm.contact] if dm else "CFO",
    }
    out = []
    for r in roles:
        c = r.contact
        out.append(
            base
            | {
                "first": ct.first[c],
                "name": ct.name(c),
                "title": ct.titles[c],
                "c_email": ct.emails[c],
                "c_phone": ct.phones[c],
            }
        )
    return out


def _next_step(x: DealCtx, stage: int) -> str:
    first = x.slots[0]["first"]
    if x.gs <= x.cutoff < x.ge:
        return f"Chase {first} - no reply since {to_date(x.gs // DAY).strftime('%b %d')}"
    if x.ss <= x.cutoff < x.se:
        return f"Re-engage {first}; confirm the project is still a priority"
    return _NEXT_STEPS[min(stage, N_OPEN - 1)].format(first=first)


class _Builder:
    def __init__(self, p: Plan, index: int) -> None:
        self.p = p
        self.s = Stream(derive(p.seed, SALT_CHUNK, index))
        self.tx = Texts(self.s)
        self.res = ChunkResult(index)
        self.rows: dict[str, list[tuple[Any, ...]]] = {k: [] for k in FORMATS}
        self.truth: list[tuple[Any, ...]] = []
        self.inj: list[list[str]] = []

    def deal(self, i: int) -> None:
        p, s = self.p, self.s
        life = simulate(p, i, s)
        roles = buying_group(p, i, life, s)
        x = DealCtx.make(p, i, s, self.tx, life, roles, _slots(p, i, roles))
        acts = build_activities(x)
        self._emit(x, life, roles, acts)

    def _emit(self, x: DealCtx, life: Life, roles: list[Role], acts: Acts) -> None:
        p, i = self.p, x.i
        opp, base = p.opp_ids[i], i * PER_DEAL
        deleted = "true" if p.deleted[i] else "false"
        uid = p.user_ids
        hist = self.rows["OpportunityHistory"]
        for k, (ts, st, amount, close, prob, fc, by) in enumerate(life.rows):
            hist.append(
                (base + k, deleted, opp, STAGE_NAMES[st], amount, close, prob, fc, ts, uid[by])
            )
        ocr = self.rows["OpportunityContactRole"]
        for k, r in enumerate(roles):
            primary = "true" if r.primary else "false"
            ocr.append((base + k, deleted, opp, r.contact_id, r.role, primary, r.joined))
        last_day = -1
        tasks = self.rows["Task"]
        for k, t in enumerate(sorted(acts.tasks, key=_FIRST)):
            tasks.append((base + k, deleted, opp, *t[1:]))
            if t[5] < p.cutoff // DAY:
                last_day = max(last_day, t[5])
        events = self.rows["Event"]
        for k, ev in enumerate(sorted(acts.events, key=_FIRST)):
            events.append((base + k, deleted, opp, *ev[1:]))
            if ev[7] < p.cutoff // DAY:
                last_day = max(last_day, ev[7])
        emails = self.rows["EmailMessage"]
        inj_id = ""
        for k, em in enumerate(sorted(acts.emails, key=_FIRST)):
            emails.append((base + k, deleted, opp, *em[1:]))
            if x.injected and not inj_id and em[6] == "true":
                text = ph.INJECTIONS[x.injection % len(ph.INJECTIONS)]
                if text in em[2]:
                    inj_id = sf_ids(KEY_PREFIX["EmailMessage"], p.pod, [base + k])[0]
                    self.inj.append([inj_id, opp, str(x.injection % len(ph.INJECTIONS)), text])
        ts, st, amount, close, prob, fc, _ = life.rows[-1]
        closed = st >= N_OPEN
        if p.deleted[i]:
            pass
        elif closed:
            self.res.won += st == WON
            self.res.lost += st != WON
        else:
            self.res.open += 1
        owner = p.owner2[i] if min(p.end[i], p.cutoff) >= p.switch[i] else p.owner[i]
        self.rows["Opportunity"].append(
            (
                opp,
                deleted,
                p.name[i],
                p.account_ids[p.account[i]],
                uid[owner],
                STAGE_NAMES[st],
                amount,
                close,
                prob,
                fc,
                "true" if closed else "false",
                "true" if st == WON else "false",
                p.type_[i],
                p.lead_source[i],
                None if closed else _next_step(x, st),
                p.created[i],
                ts,
                None if last_day < 0 else last_day,
                ts,
            )
        )
        self.truth.append(truth_row(p, i, life, closed))

    def finish(self) -> ChunkResult:
        res, pod = self.res, self.p.pod
        for obj, rows in self.rows.items():
            res.csv[obj] = render(rows, pod, FORMATS[obj])
            res.rows[obj] = len(rows)
        res.truth = render(self.truth, pod, (None, DEALS_DATETIMES, ()))
        buf = io.StringIO()
        csv.writer(buf).writerows(self.inj)
        res.injections = buf.getvalue()
        return res


def run_chunk(p: Plan, index: int) -> ChunkResult:
    b = _Builder(p, index)
    for i in range(index * CHUNK_DEALS, min(p.n, (index + 1) * CHUNK_DEALS)):
        b.deal(i)
    return b.finish()
