"""What-if phrases -> scenario changes for `dealcast.sim.scenario_changes`.

"what if Acme slips to next quarter" -> move (same day offset inside the target period,
clipped to it and never before T); "slips by 3 weeks" / "slips a month" -> move by that;
"what if we lose Acme" -> remove; "what if Acme closes at 50k" -> amount; "Acme at 80%"
-> probability; "Acme moves to Negotiation/Review" -> stage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from dealcast.graph.planning.periods import PeriodRef, find_period
from dealcast.graph.planning.text import parse_money, parse_percent

LOSE = re.compile(r"\b(lose|loses|lost|losing|drop|drops|dropped|kill|cancel\w*|remove)\b")
SLIP = re.compile(r"\b(slip|slips|slipped|slipping|push|pushes|pushed|delay\w*|move\w*|pull\w*)\b")
BY = re.compile(r"\bby\s+(an?|one|two|three|four|\d+)\s+(day|week|month)s?\b|\ba\s+(week|month)\b")
NUM = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4}


def _shifted(close: date | None, target: PeriodRef, as_of: date) -> date:
    offset = 0
    if close is not None:
        # day offset of the current close date inside its own period of the same kind
        from dealcast.sim.periods import periods_from

        own = periods_from(close, target.kind, 1)[0]
        offset = (close - own.start).days
    day = min(target.start + timedelta(days=offset), target.end)
    return max(day, as_of)


def parse_scenario(
    text: str,
    deal: Mapping[str, Any],
    stages: Sequence[str],
    as_of: datetime,
    fiscal_start_month: int = 1,
) -> tuple[dict[str, Any], PeriodRef | None] | None:
    """One change for `deal` (a directory record) and the period it moves to, or None."""
    t = text.lower()
    deal_id = str(deal["id"])
    close = date.fromisoformat(deal["close_date"]) if deal.get("close_date") else None
    for stage in sorted(stages, key=len, reverse=True):
        if re.search(rf"\b(to|into|reaches|hits)\s+{re.escape(stage.lower())}\b", t):
            return {"op": "stage", "deal": deal_id, "stage": stage}, None
    pct = parse_percent(t)
    if pct is not None and re.search(r"\b(at|to|has|chance|probability|odds)\b", t):
        return {"op": "probability", "deal": deal_id, "probability": round(pct / 100, 4)}, None
    money = parse_money(text)
    if money is not None and re.search(r"\b(at|for|worth|to|is|of)\b", t):
        return {"op": "amount", "deal": deal_id, "amount": money}, None
    if LOSE.search(t):
        return {"op": "remove", "deal": deal_id}, None
    by = BY.search(t)
    if by and close is not None:
        n = NUM.get(by.group(1) or "a") if not (by.group(1) or "").isdigit() else int(by.group(1))
        unit = by.group(2) or by.group(3)
        days = (n or 1) * {"day": 1, "week": 7, "month": 30}[unit]
        moved = max(close + timedelta(days=days), as_of.date())
        return {"op": "move", "deal": deal_id, "close_date": moved.isoformat()}, None
    m = re.search(r"\b(20\d\d-\d{2}-\d{2})\b", t)
    if m and (SLIP.search(t) or "close" in t):
        return {"op": "move", "deal": deal_id, "close_date": m.group(1)}, None
    target = find_period(t, as_of, fiscal_start_month)
    rel = re.search(r"\bnext\s+(quarter|month|week)\b", t)
    if target is not None and rel and SLIP.search(t) and close is not None:
        # "slips to next quarter": the period after the deal's own close period
        from dealcast.sim.periods import periods_from

        base = max(close, as_of.date())
        nxt = periods_from(base, rel.group(1), 2, fiscal_start_month=fiscal_start_month)[1]
        target = PeriodRef.of(nxt, rel.group(0))
    if target is not None and (SLIP.search(t) or "close" in t):
        moved = _shifted(close, target, as_of.date())
        return {"op": "move", "deal": deal_id, "close_date": moved.isoformat()}, target
    return None
