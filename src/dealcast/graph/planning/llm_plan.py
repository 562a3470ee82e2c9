"""The LLM planner's output schema and its validation into the deterministic plan shape.

The model proposes a `Plan`: an intent and subtasks (id, kind, args, depends_on, as in
`graph.state.Subtask`) whose args name entities AS THE USER WROTE THEM (deal names or Ids,
rep names, period labels or phrases, a scenario change). It never computes a number.
`resolve_plan` then:

- checks the structure: known kinds, unique ids, depends_on pointing at ids of the plan,
  no cycle, and the subtask the intent's answer needs (deal_risk -> risk, forecast ->
  forecast, ...); a broken structure raises `PlanRejected` (the caller uses the rules);
- resolves every entity with the deterministic resolvers (`entities`, `periods`); an entity
  that does not resolve (unknown deal, period, rep, stage, date or scenario value) is
  replaced by the deterministic planner's resolution of the same request, and a note says so;
- builds the canonical subtasks of the intent (fixed ids the templates read, refresh first,
  score after risk for actions), exactly as the rules would for those entities, and the
  thread focus.

A scenario amount or probability must be the one the user wrote (`parse_money` /
`parse_percent` of the request): the model routes, it never supplies a number.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dealcast.graph.planning.entities import DealIndex, match_reps
from dealcast.graph.planning.intents import DEAL_INTENTS
from dealcast.graph.planning.periods import PeriodRef, current, find_period
from dealcast.graph.planning.plans import (
    CATEGORIES,
    ORG_WIDE,
    Planned,
    _quarter_of,
    _refresh,
    _task,
    deal_plan,
    evidence_plan,
    list_plan,
)
from dealcast.graph.planning.scenarios import _shifted
from dealcast.graph.planning.text import parse_money, parse_percent
from dealcast.graph.state import SUBTASK_KINDS, Focus, Subtask
from dealcast.sim.periods import parse_period

PLAN_INTENTS = (
    "deal_risk",
    "deal_actions",
    "deal_explain",
    "forecast",
    "changes",
    "what_if",
    "list_deals",
    "refresh",
    "evidence",
    "help",
)
# the subtask whose output the answer of each intent is written from
PRIMARY_KIND = {
    "deal_risk": "risk",
    "deal_actions": "score",
    "deal_explain": "score",
    "forecast": "forecast",
    "changes": "changes",
    "what_if": "scenario",
    "list_deals": "list_deals",
    "refresh": "refresh",
    "evidence": "evidence",
}
SubtaskKind = Literal[
    "refresh", "score", "risk", "list_deals", "forecast", "scenario", "changes", "evidence"
]
assert set(SubtaskKind.__args__) == set(SUBTASK_KINDS)  # type: ignore[attr-defined]


class ScenarioChange(BaseModel):
    """One what-if change, with values exactly as the user stated them."""

    model_config = ConfigDict(extra="forbid")
    op: Literal["move", "remove", "amount", "probability", "stage", "exclude_owner"]
    close_date: str | None = Field(None, description="move: new close date YYYY-MM-DD")
    period: str | None = Field(None, description='move: target period ("next quarter", 2026-Q4)')
    amount: float | None = Field(None, description="amount: the amount the user wrote")
    probability: float | None = Field(None, description="probability: percent as written, 0-100")
    stage: str | None = Field(None, description="stage: the stage name")


class SubtaskArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    deals: list[str] = Field(
        default_factory=list, description="deal names or opportunity Ids as the user wrote them"
    )
    reps: list[str] = Field(default_factory=list, description="rep names or User Ids")
    team: bool = Field(False, description="the named rep's team (their reports)")
    period: str | None = Field(
        None, description="period label (2026-Q3, 2026-07, 2026-W27) or phrase ('next quarter')"
    )
    since: str | None = Field(None, description="changes: start date YYYY-MM-DD")
    stage: str | None = Field(None, description="list_deals: stage name filter")
    category: str | None = Field(None, description="list_deals: Commit, Best Case, Pipeline")
    sort: Literal["risk", "probability", "amount"] | None = None
    commit: bool = Field(False, description="forecast: the user asks about commit")
    change: ScenarioChange | None = None
    question: str | None = Field(
        None, description="evidence: what to look for in CRM emails, call notes and meetings"
    )


class PlanSubtask(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    kind: SubtaskKind
    args: SubtaskArgs = Field(default_factory=SubtaskArgs)
    depends_on: list[str] = Field(default_factory=list)


class Plan(BaseModel):
    """The plan answering the user's request: its intent and the subtasks (tool calls) to
    run, with entities exactly as the user wrote them. Never compute a number."""

    model_config = ConfigDict(extra="forbid")
    intent: Literal[
        "deal_risk",
        "deal_actions",
        "deal_explain",
        "forecast",
        "changes",
        "what_if",
        "list_deals",
        "refresh",
        "evidence",
        "help",
    ]
    subtasks: list[PlanSubtask] = Field(default_factory=list)


class PlanRejected(ValueError):
    """The model's plan cannot be used; the deterministic planner answers instead."""


def check_structure(plan: Plan) -> None:
    ids = [t.id for t in plan.subtasks]
    if len(set(ids)) != len(ids):
        raise PlanRejected("duplicate subtask ids")
    known = set(ids)
    for t in plan.subtasks:
        unknown = [d for d in t.depends_on if d not in known]
        if unknown:
            raise PlanRejected(f"subtask {t.id} depends on unknown {', '.join(unknown)}")
    deps = {t.id: set(t.depends_on) for t in plan.subtasks}
    done: set[str] = set()
    while deps:
        ready = [k for k, v in deps.items() if v <= done]
        if not ready:
            raise PlanRejected("circular depends_on")
        for k in ready:
            done.add(k)
            del deps[k]
    if plan.intent == "help":
        raise PlanRejected("the model found no task in the request")
    need = PRIMARY_KIND[plan.intent]
    if need not in {t.kind for t in plan.subtasks}:
        raise PlanRejected(f"intent {plan.intent} without a {need} subtask")


def _rules_args(rules: Planned, kind: str) -> dict[str, Any]:
    for t in rules.plan:
        if t["kind"] == kind:
            return dict(t["args"])
    return {}


def _rules_deals(rules: Planned) -> list[str]:
    if rules.intent not in (*DEAL_INTENTS, "what_if"):
        return []
    for kind in ("risk", "score", "scenario"):
        ids = _rules_args(rules, kind).get("deal_ids")
        if ids:
            return list(ids)
    return []


class Resolver:
    """Entity resolution for one request; `notes` collects every fallback to the rules."""

    def __init__(
        self,
        text: str,
        directory: Mapping[str, Any],
        focus: Mapping[str, Any],
        *,
        as_of: datetime,
        caller_id: str | None,
        stages: Sequence[str],
        fiscal_start_month: int,
        rules: Planned,
    ) -> None:
        self.text = text
        self.directory = directory
        self.focus = focus
        self.as_of = as_of
        self.caller_id = caller_id
        self.stages = list(stages)
        self.fiscal = fiscal_start_month
        self.rules = rules
        self.index = DealIndex(directory["deals"])
        self.users = directory["users"]
        self.notes: list[str] = []

    # ---- deals ----
    def deal(self, ref: str) -> str | None:
        ref = ref.strip()
        low = ref.lower()
        for deal_id in self.index.deals:
            if low in (deal_id.lower(), deal_id[:15].lower()):
                return deal_id
        hit = self.index.match(ref)
        return hit.ids[0] if len(hit.ids) == 1 else None

    def deals(self, refs: Sequence[str], needed: bool) -> list[str]:
        ids: list[str] = []
        bad: list[str] = []
        for ref in refs:
            found = self.deal(ref)
            if found:
                ids.append(found)
            else:
                bad.append(ref)
        ids = list(dict.fromkeys(ids))
        if bad or (needed and not ids):
            fallback = _rules_deals(self.rules)
            what = f"deal(s) {', '.join(repr(b) for b in bad)} not found" if bad else "no deal"
            if fallback:
                self.notes.append(f"{what}: used the rules' deals {', '.join(fallback)}")
                return fallback
            if needed and not ids:
                raise PlanRejected(f"{what}, and the rules resolved none")
            self.notes.append(f"{what}: ignored")
        return ids

    # ---- reps ----
    def reps(self, refs: Sequence[str], kind: str) -> list[str]:
        ids: list[str] = []
        bad: list[str] = []
        by_id = {str(u["id"]).lower(): str(u["id"]) for u in self.users}
        for ref in refs:
            low = ref.strip().lower()
            if low in by_id:
                ids.append(by_id[low])
                continue
            if low in ("me", "my", "mine", "i") and self.caller_id:
                ids.append(self.caller_id)
                continue
            hit = match_reps(ref, self.users, self.caller_id)
            if len(hit.user_ids) == 1:
                ids.append(hit.user_ids[0])
            else:
                bad.append(ref)
        if bad:
            args = _rules_args(self.rules, kind)
            fallback = list(args.get("owner_ids") or [])
            if args.get("manager_id"):
                fallback = [str(args["manager_id"])]
            self.notes.append(
                f"rep(s) {', '.join(repr(b) for b in bad)} not found: used the rules' "
                + (", ".join(fallback) or "whole org")
            )
            return fallback
        return list(dict.fromkeys(ids))

    # ---- periods ----
    def period(self, ref: str | None, kind: str) -> PeriodRef:
        if ref:
            try:
                p = parse_period(ref, fiscal_start_month=self.fiscal)
                return PeriodRef.of(p, ref)
            except ValueError:
                found = find_period(ref, self.as_of, self.fiscal)
                if found is not None:
                    return found
        args = _rules_args(self.rules, kind)
        label = args.get("label")
        if ref:
            self.notes.append(
                f"period {ref!r} not understood: used the rules' {label or 'current quarter'}"
            )
        if label:
            return PeriodRef.of(parse_period(label, fiscal_start_month=self.fiscal), label)
        if kind == "forecast" and self.focus.get("period") and not ref:
            label = str(self.focus["period"])
            return PeriodRef.of(parse_period(label, fiscal_start_month=self.fiscal), label)
        return PeriodRef.of(current(self.as_of, "quarter", self.fiscal), "this quarter")

    # ---- scenario ----
    def change(self, change: ScenarioChange | None, deal_ids: list[str]) -> dict[str, Any]:
        rules_changes = _rules_args(self.rules, "scenario").get("changes") or []
        rules_change = dict(rules_changes[0]) if rules_changes else None

        def fallback(why: str) -> dict[str, Any]:
            if rules_change is None:
                raise PlanRejected(f"{why}, and the rules found no scenario")
            self.notes.append(f"{why}: used the rules' scenario")
            return rules_change

        if change is None:
            return fallback("no scenario change")
        if change.op == "exclude_owner":
            return fallback("no known rep whose deals to exclude")
        if not deal_ids:
            return fallback("no deal for the scenario")
        deal = deal_ids[0]
        if change.op == "remove":
            return {"op": "remove", "deal": deal}
        if change.op == "amount":
            said = parse_money(self.text)
            if change.amount is None or said is None or abs(said - change.amount) > 0.5:
                return fallback(f"amount {change.amount} is not the one in the request")
            return {"op": "amount", "deal": deal, "amount": said}
        if change.op == "probability":
            said_pct = parse_percent(self.text)
            if change.probability is None or said_pct is None:
                return fallback("no probability in the request")
            if abs(said_pct - change.probability) > 1e-6:
                return fallback(f"probability {change.probability} is not the one in the request")
            return {"op": "probability", "deal": deal, "probability": round(said_pct / 100, 4)}
        if change.op == "stage":
            by_name = {s.lower(): s for s in self.stages}
            stage = by_name.get((change.stage or "").strip().lower())
            if stage is None:
                return fallback(f"stage {change.stage!r} is not an open stage")
            return {"op": "stage", "deal": deal, "stage": stage}
        # move
        if change.close_date:
            try:
                moved = date.fromisoformat(change.close_date)
            except ValueError:
                return fallback(f"close date {change.close_date!r} is not a date")
            moved = max(moved, self.as_of.date())
            return {"op": "move", "deal": deal, "close_date": moved.isoformat()}
        if change.period:
            target = find_period(change.period, self.as_of, self.fiscal)
            if target is None:
                try:
                    parsed = parse_period(change.period, fiscal_start_month=self.fiscal)
                    target = PeriodRef.of(parsed, change.period)
                except ValueError:
                    return fallback(f"period {change.period!r} not understood")
            info = self.index.deals.get(deal) or {}
            close = date.fromisoformat(info["close_date"]) if info.get("close_date") else None
            moved = _shifted(close, target, self.as_of.date())
            return {"op": "move", "deal": deal, "close_date": moved.isoformat()}
        return fallback("a move without a date or period")


def resolve_plan(
    plan: Plan,
    text: str,
    directory: Mapping[str, Any],
    focus: Mapping[str, Any] | None,
    *,
    as_of: datetime,
    caller_id: str | None,
    stages: Sequence[str],
    fiscal_start_month: int,
    rules: Planned,
) -> tuple[Planned, list[str]]:
    """The model's plan as the deterministic planner would have built it for the same
    entities, and notes on every entity that fell back to the rules."""
    check_structure(plan)
    focus = dict(focus or {})
    r = Resolver(
        text,
        directory,
        focus,
        as_of=as_of,
        caller_id=caller_id,
        stages=stages,
        fiscal_start_month=fiscal_start_month,
        rules=rules,
    )
    intent = plan.intent
    by_kind: dict[str, PlanSubtask] = {}
    for t in plan.subtasks:
        by_kind.setdefault(t.kind, t)
    primary = by_kind[PRIMARY_KIND[intent]]
    deal_refs = list(dict.fromkeys(ref for t in plan.subtasks for ref in t.args.deals))
    new_focus = Focus(
        deal_ids=list(focus.get("deal_ids") or []),
        period=focus.get("period"),
        period_kind=focus.get("period_kind"),
        owner_ids=list(focus.get("owner_ids") or []),
        manager_id=focus.get("manager_id"),
        intent=intent,
        candidates=[],
    )
    tasks: list[Subtask]
    args: dict[str, Any]
    if intent in DEAL_INTENTS:
        deal_ids = r.deals(deal_refs, needed=True)
        tasks = deal_plan(intent, deal_ids)
        new_focus["deal_ids"] = deal_ids
    elif intent == "forecast":
        a = primary.args
        owners = r.reps(a.reps, "forecast")
        p = r.period(a.period, "forecast")
        manager_id = None
        if a.team and len(owners) == 1 and any(u.get("manager_id") == owners[0] for u in r.users):
            manager_id, owners = owners[0], []
        args = {
            "kind": p.kind,
            "label": p.label,
            "owner_ids": owners,
            "manager_id": manager_id,
            "scope": "team" if manager_id else "owner" if owners else "org",
            "team_requested": bool(a.team and a.reps),
            "focus": "commit" if a.commit else None,
        }
        tasks = [_refresh(), _task("forecast", "forecast", args)]
        new_focus["period"], new_focus["period_kind"] = p.label, p.kind
        new_focus["owner_ids"], new_focus["manager_id"] = owners, manager_id
    elif intent == "changes":
        a = primary.args
        p = r.period(a.period, "changes")
        since: str | None = None
        if a.since:
            try:
                since = datetime.fromisoformat(a.since).isoformat()
            except ValueError:
                since = _rules_args(rules, "changes").get("since")
                r.notes.append(f"since {a.since!r} is not a date: used the rules' {since}")
        else:
            since = _rules_args(rules, "changes").get("since")
        args = {
            "label": p.label,
            "since": since,
            "since_phrase": f"since {since[:10]}" if since else "last week",
        }
        tasks = [_refresh(), _task("changes", "changes", args)]
        new_focus["period"], new_focus["period_kind"] = p.label, p.kind
    elif intent == "list_deals":
        a = primary.args
        owners = r.reps(a.reps, "list_deals")
        stage_names = {str(d["stage"]).lower(): str(d["stage"]) for d in directory["deals"]}
        stage = stage_names.get((a.stage or "").strip().lower()) if a.stage else None
        if a.stage and stage is None:
            stage = _rules_args(rules, "list_deals").get("stage")
            r.notes.append(f"stage {a.stage!r} not found: used the rules' {stage}")
        cats = {c.lower(): c for c in CATEGORIES}
        category = cats.get((a.category or "").strip().lower()) if a.category else None
        if a.category and category is None:
            r.notes.append(f"category {a.category!r} not found: ignored")
        tasks = list_plan(directory, owners, stage, category, a.sort or "amount")
        new_focus["owner_ids"] = owners
    elif intent == "refresh":
        tasks = [_refresh()]
    elif intent == "evidence":  # searched with the user's own words, never the model's
        deal_ids = [] if ORG_WIDE.search(text.lower()) else r.deals(deal_refs, needed=False)
        owners = r.reps(primary.args.reps, "evidence")
        tasks = evidence_plan(text, deal_ids, owners)
        if deal_ids:
            new_focus["deal_ids"] = deal_ids
        new_focus["owner_ids"] = owners
    else:  # what_if
        a = primary.args
        change_arg = a.change
        change: dict[str, Any]
        deal_ids = r.deals(deal_refs, needed=change_arg is None or change_arg.op != "exclude_owner")
        if change_arg is not None and change_arg.op == "exclude_owner":
            owners = r.reps(a.reps, "scenario")
            if owners:
                change = {"op": "exclude_owner", "owner": owners[0]}
            else:
                change = r.change(change_arg, [])
        else:
            change = r.change(change_arg, deal_ids)
        if change["op"] == "exclude_owner":
            label = current(as_of, "quarter", fiscal_start_month).label
            args = {
                "changes": [change],
                "kind": "quarter",
                "label": label,
                "deal_ids": [],
            }
        else:
            deal_id = str(change["deal"])
            info = r.index.deals.get(deal_id) or {}
            close = date.fromisoformat(info["close_date"]) if info.get("close_date") else None
            moved = date.fromisoformat(change["close_date"]) if change.get("close_date") else None
            latest = max((d for d in (close, moved) if d is not None), default=None)
            label = _quarter_of(latest, as_of, fiscal_start_month).label
            args = {"changes": [change], "kind": "quarter", "label": label, "deal_ids": [deal_id]}
            new_focus["deal_ids"] = [deal_id]
        tasks = [_refresh(), _task("scenario", "scenario", args)]
    unused = sorted({t.kind for t in plan.subtasks} - {t["kind"] for t in tasks})
    if unused:
        r.notes.append(f"dropped subtasks the {intent} answer does not use: {', '.join(unused)}")
    return Planned(intent, plan=tasks, focus=new_focus), r.notes
