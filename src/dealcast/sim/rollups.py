"""Who rolls up to whom, and period quotas.

Teams follow User.ManagerId: a manager's team is every user below them, transitively, plus
themselves (a manager who sells keeps their own deals in their number). Cycles in the
hierarchy (bad CRM data) are cut where they close, never looped on.

Quotas follow Salesforce's ForecastingQuota: (owner, start date, amount); a period's quota
is the sum of the owner's quotas starting inside it (monthly quotas add up to a quarter). A
manager's quota is their own when they have one for the period (Salesforce's manager
quota), else the sum of their team's; the org's is the sum over the top of the hierarchy.
"""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from dealcast.sim.periods import Period


def teams(users: pd.DataFrame) -> dict[str, set[str]]:
    """manager id -> every user id under them (transitively) plus the manager."""
    children: dict[str, list[str]] = defaultdict(list)
    for uid, mid in zip(users["Id"], users["ManagerId"], strict=True):
        if isinstance(mid, str) and mid and mid != uid:
            children[mid].append(uid)
    out: dict[str, set[str]] = {}
    for manager in children:
        seen = {manager}
        stack = list(children[manager])
        while stack:
            uid = stack.pop()
            if uid not in seen:
                seen.add(uid)
                stack.extend(children.get(uid, []))
        out[manager] = seen
    return out


def roots(users: pd.DataFrame) -> list[str]:
    """Users without a (known) manager: the top of each hierarchy."""
    known = set(users["Id"])
    return [
        uid
        for uid, mid in zip(users["Id"], users["ManagerId"], strict=True)
        if not (isinstance(mid, str) and mid in known)
    ]


def period_quotas(quotas: pd.DataFrame | None, period: Period) -> dict[str, float]:
    """owner id -> quota for the period (only owners that have one)."""
    if quotas is None or quotas.empty:
        return {}
    start = pd.to_datetime(quotas["start_date"]).dt.date
    inside = quotas[(start >= period.start) & (start <= period.end)]
    return {str(k): float(v) for k, v in inside.groupby("owner_id")["amount"].sum().items()}


def team_quota(
    manager: str, members: set[str], own: dict[str, float], team_of: dict[str, set[str]]
) -> float | None:
    """The manager's own quota if set, else the sum of the team's quotas, each sub-manager's
    part counted once, through their own team quota."""
    if manager in own:
        return own[manager]
    total, found = 0.0, False
    covered: set[str] = set()
    # sub-managers first (largest teams first), so their reports are not added again
    for sub in sorted(members - {manager}, key=lambda u: -len(team_of.get(u, ()))):
        if sub in covered:
            continue
        if sub in team_of:
            value = team_quota(sub, team_of[sub], own, team_of)
            covered |= team_of[sub]
        else:
            value = own.get(sub)
            covered.add(sub)
        if value is not None:
            total, found = total + value, True
    return total if found else None


def org_quota(users: pd.DataFrame, own: dict[str, float]) -> float | None:
    team_of = teams(users)
    values = [
        team_quota(r, team_of[r], own, team_of) if r in team_of else own.get(r)
        for r in roots(users)
    ]
    present = [v for v in values if v is not None]
    # quotas for owners missing from the user table still count at the top
    known = set(users["Id"])
    present += [v for k, v in own.items() if k not in known]
    return sum(present) if present else None
