"""The deterministic planner: request + directory + thread focus -> intent and a plan.

Ambiguity is answered, not interrupted: when a deal name matches several open deals the
planner replies with the candidates and remembers them in `focus.candidates`; the next
turn may pick one ("the second one", an Id, or a more precise name) and the original
question is answered then. This keeps every turn a complete request/response (works the
same over the REST API, in Studio and in tests) instead of parking the thread on an
`interrupt()`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from dealcast.graph.planning.entities import DealIndex, match_reps
from dealcast.graph.planning.intents import DEAL_INTENTS, detect_intent, is_follow_up
from dealcast.graph.planning.periods import PeriodRef, current, find_period, find_since
from dealcast.graph.planning.scenarios import LOSE, parse_scenario
from dealcast.graph.state import Focus, Subtask

LIST_RISK_LIMIT = 15  # deals whose risks are computed for a "deals by risk" list
ORDINALS = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "last": -1}
CATEGORIES = ("Commit", "Best Case", "Pipeline", "Omitted")


@dataclass
class Planned:
    intent: str
    plan: list[Subtask] = field(default_factory=list)
    focus: Focus = field(default_factory=lambda: Focus())
    reply: dict[str, Any] | None = None  # for help/clarify: what to tell the user


def _task(id_: str, kind: str, args: dict[str, Any], deps: Sequence[str] = ()) -> Subtask:
    return Subtask(id=id_, kind=kind, args=args, depends_on=list(deps))


def _refresh() -> Subtask:
    return _task("refresh", "refresh", {})


def _pick_candidate(text: str, candidates: Sequence[str], index: DealIndex) -> str | None:
    t = text.lower()
    for word, i in ORDINALS.items():
        if re.search(rf"\b{word}\b", t):
            return candidates[i] if -len(candidates) <= i < len(candidates) else None
    m = re.search(r"(?:^|#|\bnumber\s+|\bno\.?\s*)(\d{1,2})\b", t.strip())
    if m and 1 <= int(m.group(1)) <= len(candidates):
        return candidates[int(m.group(1)) - 1]
    sub = DealIndex([index.deals[c] for c in candidates if c in index.deals])
    hit = sub.match(text)
    return hit.ids[0] if len(hit.ids) == 1 else None


def _quarter_of(day: date | None, as_of: datetime, fiscal: int) -> PeriodRef:
    base = current(as_of, "quarter", fiscal)
    if day is None or day <= base.end:
        return PeriodRef.of(base, "this quarter")
    for k in range(1, 24):
        p = current(as_of, "quarter", fiscal, k)
        if p.start <= day <= p.end:
            return PeriodRef.of(p, p.label)
    return PeriodRef.of(base, "this quarter")


def plan_request(
    text: str,
    directory: Mapping[str, Any],
    focus: Mapping[str, Any] | None,
    *,
    as_of: datetime,
    caller_id: str | None = None,
    stages: Sequence[str] = (),
    fiscal_start_month: int = 1,
) -> Planned:
    focus = dict(focus or {})
    index = DealIndex(directory["deals"])
    users = directory["users"]
    intent = detect_intent(text)
    reps = match_reps(text, users, caller_id)
    deals = index.match(text, exclude=reps.words)
    deal_ids = deals.ids
    if focus.get("candidates") and not deal_ids:
        picked = _pick_candidate(text, focus["candidates"], index)
        if picked:
            deal_ids = [picked]
            deals.candidates = []
            intent = intent or focus.get("intent")
    follow = is_follow_up(text)
    if (
        not deal_ids
        and not deals.ambiguous
        and focus.get("deal_ids")
        and (
            intent in DEAL_INTENTS
            or intent == "what_if"
            or (
                intent is None
                and follow
                and not reps.user_ids
                and focus.get("intent") in (*DEAL_INTENTS, "what_if")
            )
        )
    ):
        deal_ids = list(focus["deal_ids"])
    period = find_period(text, as_of, fiscal_start_month)
    if intent is None:
        if deal_ids or deals.ambiguous:
            intent = "deal_risk"
        elif (
            (follow or period or reps.user_ids)
            and focus.get("intent")
            in (
                "forecast",
                "changes",
                "list_deals",
            )
        ) or (follow and focus.get("intent") in DEAL_INTENTS and focus.get("deal_ids")):
            intent = focus["intent"]
    if intent is None:
        return Planned("help", focus=Focus(**focus), reply={"kind": "help"})  # type: ignore[typeddict-item]

    new_focus = Focus(
        deal_ids=list(focus.get("deal_ids") or []),
        period=focus.get("period"),
        period_kind=focus.get("period_kind"),
        owner_ids=list(focus.get("owner_ids") or []),
        manager_id=focus.get("manager_id"),
        intent=intent,
        candidates=[],
    )
    if intent == "evidence":
        return _evidence_planned(
            text, deals.candidates or deal_ids, reps.user_ids, focus, new_focus
        )
    needs_deal = intent in DEAL_INTENTS or (intent == "what_if" and not reps.user_ids)
    if needs_deal and deals.ambiguous and not deal_ids:
        new_focus["candidates"] = deals.candidates
        return Planned(
            "clarify",
            focus=new_focus,
            reply={"kind": "ambiguous", "candidates": deals.candidates, "intent": intent},
        )
    if needs_deal and not deal_ids:
        return Planned("clarify", focus=new_focus, reply={"kind": "which_deal", "intent": intent})
    if deal_ids:
        new_focus["deal_ids"] = deal_ids

    if intent in DEAL_INTENTS:
        plan = deal_plan(intent, deal_ids)
    elif intent == "forecast":
        plan, extra = _forecast_plan(text, period, reps, focus, as_of, fiscal_start_month, users)
        new_focus.update(extra)  # type: ignore[typeddict-item]
    elif intent == "changes":
        since = find_since(text, as_of)
        rest = text.replace(since[1], " ") if since else text
        if since:
            rest = re.sub(re.escape(since[1]), " ", rest, flags=re.IGNORECASE)
        period = find_period(rest, as_of, fiscal_start_month) or PeriodRef.of(
            current(as_of, "quarter", fiscal_start_month), "this quarter"
        )
        args = {
            "label": period.label,
            "since": since[0].isoformat() if since else None,
            "since_phrase": since[1] if since else "last week",
        }
        plan = [_refresh(), _task("changes", "changes", args)]
        new_focus["period"], new_focus["period_kind"] = period.label, period.kind
    elif intent == "list_deals":
        plan = _list_plan(text, directory, reps.user_ids)
        new_focus["owner_ids"] = reps.user_ids
    elif intent == "refresh":
        asked = bool(re.search(r"\b(re)?sync|\brefresh|\bpull\b|\bupdate the data\b", text.lower()))
        plan = [_task("refresh", "refresh", {"sync": True} if asked else {})]
    else:  # what_if
        planned = _what_if_plan(
            text, directory, index, deal_ids, reps.user_ids, stages, as_of, fiscal_start_month
        )
        if planned is None:
            return Planned(
                "clarify", focus=new_focus, reply={"kind": "what_if_help", "deal_ids": deal_ids}
            )
        plan = planned
    return Planned(intent, plan=plan, focus=new_focus)


ORG_WIDE = re.compile(
    r"\b(which|what|any|all|list|how many)\s+(deals|opportunities|opps|accounts)\b"
)


def evidence_task(
    question: str | None,
    deal_ids: list[str],
    owner_ids: Sequence[str] = (),
    deps: Sequence[str] = (),
    mode: str = "auto",
) -> Subtask:
    """The evidence search; `question` None = the evidence behind the deals' risks (the
    risk/score outputs in `deps`). Mode "extractive": no LLM inside the search."""
    args = {
        "question": question,
        "deal_ids": deal_ids,
        "owner_ids": list(owner_ids),
        "scope": "deal" if deal_ids else "org",
        "mode": mode,
    }
    return _task("evidence", "evidence", args, deps)


def evidence_plan(question: str, deal_ids: list[str], owner_ids: Sequence[str]) -> list[Subtask]:
    """Deal-scoped: the deal's risks and score too (the answer quotes beside them);
    org-wide: the search alone."""
    if not deal_ids:
        return [_refresh(), evidence_task(question, [], owner_ids)]
    return [
        _refresh(),
        _task("risk", "risk", {"deal_ids": deal_ids}),
        _score(deal_ids),
        evidence_task(question, deal_ids, deps=("risk", "score")),
    ]


def _evidence_planned(
    text: str,
    deal_ids: list[str],
    owner_ids: list[str],
    focus: Mapping[str, Any],
    new_focus: Focus,
) -> Planned:
    """Org-wide when the request asks across deals ("which deals mention PipeIQ?": the name
    is the search term), else scoped to the deals it names (all candidates of an ambiguous
    name) or, for a follow-up, to the deals of the previous turn."""
    if ORG_WIDE.search(text.lower()):
        deal_ids = []
    elif not deal_ids and is_follow_up(text) and focus.get("deal_ids"):
        deal_ids = list(focus["deal_ids"])
    if deal_ids:
        new_focus["deal_ids"] = list(deal_ids)
    new_focus["owner_ids"] = list(owner_ids)
    return Planned("evidence", plan=evidence_plan(text, deal_ids, owner_ids), focus=new_focus)


def deal_plan(intent: str, deal_ids: list[str]) -> list[Subtask]:
    """The subtasks of a deal intent (deal_risk, deal_actions, deal_explain). A risk answer
    also quotes the CRM evidence behind the risks (extractive: the narration, if any, is the
    turn's one LLM call on the answer)."""
    if intent == "deal_risk":
        return [
            _refresh(),
            _task("risk", "risk", {"deal_ids": deal_ids}),
            _score(deal_ids),
            evidence_task(None, deal_ids, deps=("risk", "score"), mode="extractive"),
        ]
    if intent == "deal_actions":
        return [
            _refresh(),
            _task("risk", "risk", {"deal_ids": deal_ids}),
            _score(deal_ids, deps=("risk",)),
        ]
    if intent == "deal_explain":
        return [_refresh(), _score(deal_ids)]
    raise ValueError(f"not a deal intent: {intent!r}")


def _score(deal_ids: list[str], deps: Sequence[str] = ()) -> Subtask:
    return _task(
        "score", "score", {"deal_ids": deal_ids, "risks_from": deps[0] if deps else None}, deps
    )


def _forecast_plan(
    text: str,
    period: PeriodRef | None,
    reps: Any,
    focus: Mapping[str, Any],
    as_of: datetime,
    fiscal: int,
    users: Sequence[Mapping[str, Any]],
) -> tuple[list[Subtask], dict[str, Any]]:
    if period is None and focus.get("period") and focus.get("intent") == "forecast":
        label, kind = str(focus["period"]), str(focus.get("period_kind") or "quarter")
    else:
        p = period or PeriodRef.of(current(as_of, "quarter", fiscal), "this quarter")
        label, kind = p.label, p.kind
    owner_ids: list[str] = list(reps.user_ids)
    manager_id = None
    if not owner_ids and is_follow_up(text) and focus.get("intent") == "forecast":
        owner_ids = list(focus.get("owner_ids") or [])
        manager_id = focus.get("manager_id")
    if reps.team and len(owner_ids) == 1:
        managed = any(u.get("manager_id") == owner_ids[0] for u in users)
        if managed:
            manager_id, owner_ids = owner_ids[0], []
    scope = "team" if manager_id else "owner" if owner_ids else "org"
    args = {
        "kind": kind,
        "label": label,
        "owner_ids": owner_ids,
        "manager_id": manager_id,
        "scope": scope,
        "team_requested": bool(reps.team and reps.user_ids),
        "focus": "commit" if re.search(r"\bcommit\b", text.lower()) else None,
    }
    extra = {"period": label, "period_kind": kind, "owner_ids": owner_ids, "manager_id": manager_id}
    return [_refresh(), _task("forecast", "forecast", args)], extra


def _list_plan(text: str, directory: Mapping[str, Any], owner_ids: list[str]) -> list[Subtask]:
    t = text.lower()
    stages = sorted({str(d["stage"]) for d in directory["deals"]}, key=len, reverse=True)
    stage = next((s for s in stages if s.lower() in t), None)
    category = next((c for c in CATEGORIES if re.search(rf"\b{c.lower()}\b", t)), None)
    if stage and category and category.lower() in stage.lower():
        category = None
    sort = (
        "risk"
        if "risk" in t
        else "probability"
        if re.search(r"likel|probab|score", t)
        else "amount"
    )
    return list_plan(directory, owner_ids, stage, category, sort)


def list_plan(
    directory: Mapping[str, Any],
    owner_ids: list[str],
    stage: str | None,
    category: str | None,
    sort: str,
) -> list[Subtask]:
    """A deal listing (filters already resolved) and, sorted by risk or probability, the
    scores/risks of its largest deals."""
    rows = [d for d in directory["deals"] if not owner_ids or d["owner_id"] in owner_ids]
    if stage:
        rows = [d for d in rows if d["stage"] == stage]
    if category:
        rows = [d for d in rows if (d["category"] or "") == category]
    rows.sort(key=lambda d: (-(d["amount"] or 0.0), d["id"]))
    ranked = [d["id"] for d in rows[:LIST_RISK_LIMIT]]
    args = {
        "owner_ids": owner_ids,
        "stage": stage,
        "category": category,
        "sort": sort,
        "ranked_ids": ranked,
    }
    plan = [_refresh(), _task("list", "list_deals", args)]
    if sort in ("risk", "probability") and ranked:
        plan.append(_task("score", "score", {"deal_ids": ranked, "risks_from": None}))
        if sort == "risk":
            plan.append(_task("risk", "risk", {"deal_ids": ranked}))
    return plan


def _what_if_plan(
    text: str,
    directory: Mapping[str, Any],
    index: DealIndex,
    deal_ids: list[str],
    owner_ids: list[str],
    stages: Sequence[str],
    as_of: datetime,
    fiscal: int,
) -> list[Subtask] | None:
    if not deal_ids and owner_ids and LOSE.search(text.lower()):
        change: dict[str, Any] = {"op": "exclude_owner", "owner": owner_ids[0]}
        label = current(as_of, "quarter", fiscal).label
        args = {"changes": [change], "kind": "quarter", "label": label, "deal_ids": []}
        return [_refresh(), _task("scenario", "scenario", args)]
    deal = index.deals.get(deal_ids[0]) if deal_ids else None
    if deal is None:
        return None
    parsed = parse_scenario(text, deal, stages, as_of, fiscal)
    if parsed is None:
        return None
    change, target = parsed
    close = date.fromisoformat(deal["close_date"]) if deal.get("close_date") else None
    moved = date.fromisoformat(change["close_date"]) if change.get("close_date") else None
    latest = max((d for d in (close, moved) if d is not None), default=None)
    if target is not None and target.kind != "quarter":
        kind, label = target.kind, target.label
    else:
        kind, label = "quarter", _quarter_of(latest, as_of, fiscal).label
    args = {"changes": [change], "kind": kind, "label": label, "deal_ids": [deal["id"]]}
    return [_refresh(), _task("scenario", "scenario", args)]
