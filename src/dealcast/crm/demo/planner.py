"""Builds the `Plan`: team, deal creation times, accounts, owners and latent drivers."""

from __future__ import annotations

from datetime import date
from itertools import accumulate

import numpy as np

from dealcast.crm.demo import names as nm
from dealcast.crm.demo.cal import next_workdays, to_date, to_day
from dealcast.crm.demo.contacts import make_contacts
from dealcast.crm.demo.fmt import DAY, NEVER, pod_for, sf_ids
from dealcast.crm.demo.latent import Plan, drivers
from dealcast.crm.demo.people import Accounts, Users, make_users
from dealcast.crm.demo.rand import SALT_DEALS, SALT_ORG, Stream, derive
from dealcast.crm.records import KEY_PREFIX

YEARS = 3
DEALS_PER_SCALE = 5000
_LEAD_CUM = list(accumulate(nm.LEAD_SOURCE_WEIGHTS))
_AMOUNT_MEDIAN = (14_000.0, 48_000.0, 170_000.0)
_AMOUNT_ROUND = (500, 1000, 5000)


def _creation_times(rng: np.random.Generator, n: int, start_day: int, days: int) -> np.ndarray:
    growth = 1.5  # the deal creation rate grows linearly, 2.5x over the window
    u = np.sort(rng.random(n))
    x = (np.sqrt(1 + 2 * growth * u * (1 + growth / 2)) - 1) / growth
    day = next_workdays(start_day + (x * (days - 2)).astype(np.int64))
    day = np.minimum(day, start_day + days - 1)
    secs = 13 * 3600 + rng.integers(0, 9 * 60, n) * 60 + rng.integers(0, 60, n)
    return np.sort(day * DAY + secs)


def _active_reps(users: Users, ts: int, cache: dict[int, list[int]]) -> list[int]:
    week = ts // (7 * DAY)
    reps = cache.get(week)
    if reps is None:
        # A rep gets new deals from hire until a month before leaving.
        reps = [r for r in users.reps if users.hire[r] <= ts < users.leave[r] - 30 * DAY]
        cache[week] = reps
    return reps


def _current(users: Users, rep: int, ts: int) -> int:
    while users.leave[rep] <= ts and rep in users.successor:
        rep = users.successor[rep]
    return rep


def make_plan(seed: int, scale: float, today: date) -> Plan:
    if scale <= 0:
        raise ValueError("scale must be positive")
    s = Stream(derive(seed, SALT_ORG))
    rng = derive(seed, SALT_DEALS)
    cutoff_day = to_day(today)
    start_day = cutoff_day - 365 * YEARS
    cutoff, start = cutoff_day * DAY, start_day * DAY
    users = make_users(s, scale, start, cutoff)
    n = max(20, round(DEALS_PER_SCALE * scale))
    created = _creation_times(rng, n, start_day, cutoff_day - start_day)
    seg_draw = rng.choice(3, n, p=[0.5, 0.33, 0.17])

    accounts = Accounts()
    account, owner, segment, types = [], [], [], []
    with_deals: list[int] = []
    cache: dict[int, list[int]] = {}
    for i, ts in enumerate(created.tolist()):
        active = _active_reps(users, ts, cache) or users.reps
        if with_deals and s.chance(0.3):
            a = s.pick(with_deals)
            rep = _current(users, accounts.owner[a], ts)
            if not users.active_at(rep, ts):
                rep = s.pick(active)
            accounts.owner[a] = rep
            types.append(s.weighted(nm.EXISTING_TYPES, (0.7, 0.9, 1.0)))
        else:
            rep = s.pick(active)
            a = accounts.add(s, int(seg_draw[i]), ts - int(s.uniform(3, 120) * DAY), rep)
            with_deals.append(a)
            types.append(nm.NEW_TYPE)
        account.append(a)
        owner.append(rep)
        segment.append(accounts.segment[a])
    for _ in range(round(0.1 * len(accounts.names))):  # accounts that never had a deal
        ts = start + int(s.u() * (cutoff - start - DAY))
        active = _active_reps(users, ts, cache) or users.reps
        accounts.add(s, int(s.below(3)), ts, s.pick(active))
    accounts.owner = [_current(users, r, cutoff) for r in accounts.owner]
    contacts = make_contacts(s, accounts, cutoff)

    seg = np.array(segment)
    existing = np.array([t != nm.NEW_TYPE for t in types])
    skill = np.array([users.skill[r] for r in owner])
    lone = np.array([len(contacts.staff[a]) <= 1 for a in account], dtype=bool)
    d = drivers(rng, created, seg, existing, skill, lone)
    end = d["end"].tolist()
    owner2, switch = [], []
    for rep, ts_end in zip(owner, end, strict=True):
        leave = users.leave[rep]
        if leave < ts_end and rep in users.successor:
            owner2.append(users.successor[rep])
            switch.append(leave)
        else:
            owner2.append(rep)
            switch.append(NEVER)
    amount = np.exp(0.55 * rng.standard_normal(n)) * np.array(_AMOUNT_MEDIAN)[seg]
    amount = amount * np.where(existing, 0.6, 1.0)
    step = np.array(_AMOUNT_ROUND)[seg]
    amount0 = (np.maximum(1, np.round(amount / step)) * step).astype(np.int64)
    is_open = d["end"] >= cutoff
    extra = rng.random((3, n))
    n_inj = max(3, round(12 * scale))
    # Injections go into an inbound email of engaged, multi-threaded deals (which have some).
    lively = (d["engagement"] > 0.5) & ~d["single"] & (d["ghost_start"] == NEVER)
    candidates = np.flatnonzero(lively & (created < cutoff - 60 * DAY))
    chosen = rng.choice(candidates, min(n_inj, len(candidates)), replace=False)
    injection = np.full(n, -1)
    injection[chosen] = np.arange(len(chosen))

    names, products = [], []
    for i in range(n):
        short = accounts.names[account[i]].rsplit(" ", 1)[0]
        product = s.pick(nm.PRODUCTS)
        products.append(product)
        style = s.below(3)
        if style == 0:
            names.append(f"{short} - {product}")
        elif style == 1:
            seats = f"{s.between(1, 40) * 25} seats"
            kind = types[i].split(" - ")[-1] if types[i] != nm.NEW_TYPE else "New Business"
            names.append(f"{short} - {kind} ({seats})")
        else:
            year = to_date(int(created[i]) // DAY).year
            names.append(f"{short} {product} FY{(year + 1) % 100:02d}")
    pod = pod_for(seed)
    return Plan(
        seed=seed,
        cutoff=cutoff,
        pod=pod,
        users=users,
        user_ids=sf_ids(KEY_PREFIX["User"], pod, range(1, len(users.names) + 1)),
        accounts=accounts,
        account_ids=sf_ids(KEY_PREFIX["Account"], pod, range(1, len(accounts.names) + 1)),
        contacts=contacts,
        contact_ids=sf_ids(KEY_PREFIX["Contact"], pod, range(1, len(contacts.first) + 1)),
        opp_ids=sf_ids(KEY_PREFIX["Opportunity"], pod, range(1, n + 1)),
        account=account,
        owner=owner,
        owner2=owner2,
        switch=switch,
        segment=segment,
        type_=types,
        lead_source=[s.weighted(nm.LEAD_SOURCES, _LEAD_CUM) for _ in range(n)],
        name=names,
        product=products,
        created=created.tolist(),
        end=end,
        span=d["span"].tolist(),
        won=d["won"].tolist(),
        engagement=np.round(d["engagement"], 3).tolist(),
        ghost_start=d["ghost_start"].tolist(),
        ghost_end=d["ghost_end"].tolist(),
        stall_start=d["stall_start"].tolist(),
        stall_end=d["stall_end"].tolist(),
        budget_at=d["budget_at"].tolist(),
        dm_at=d["dm_at"].tolist(),
        comp_at=d["comp_at"].tolist(),
        competitor=d["competitor"].tolist(),
        pricing_at=d["pricing_at"].tolist(),
        single=d["single"].tolist(),
        amount0=amount0.tolist(),
        null_amount=(is_open & (extra[0] < 0.02)).tolist(),
        deleted=(extra[1] < 0.01).tolist(),
        injection=injection.tolist(),
    )
