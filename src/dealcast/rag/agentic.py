"""The agentic retrieval subgraph: route -> retrieve -> grade -> (rewrite -> retrieve, at
most `RagContext.max_rewrites` times while evidence is weak) -> answer -> grounding.

    START -> route -> retrieve -> grade --weak, retries left--> rewrite -> retrieve
                                    \\--enough or out of retries--> answer -> grounding -> END

- route: deal-scoped (the request names deals) or org-wide, the question's concepts and
  the activity kinds it names ("emails" -> email). The metadata filter is built by
  `RagContext.make_filter`, which the caller bakes the visibility and the as-of cut into:
  nothing here can widen it (a `None` filter means the caller sees nothing: no search).
- grade/rewrite/answer: rules (`grading`, `extractive`) or, with `RagContext.ask`, the
  LLM, falling back to the rules on any failure (noted).
- grounding: every claim checked against the cited passages and the tool outputs
  (`grounding.ground`); an LLM answer left with no supported claim is replaced by the
  extractive one.

State holds raw records (passages as dicts), never prompt text. The graph is compiled
without a checkpointer and invoked synchronously by the evidence worker.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime

from dealcast.rag import grading
from dealcast.rag.extractive import quote_line, select_quotes
from dealcast.rag.grading import AskFailed, Query, parse_query
from dealcast.rag.grounding import ground

KIND_WORDS = {
    "email": "email",
    "emails": "email",
    "mail": "email",
    "call": "call",
    "calls": "call",
    "meeting": "meeting",
    "meetings": "meeting",
}


@dataclass(frozen=True)
class RagContext:
    retriever: Any  # has .search(query, flt, k) -> passages (with .as_dict()) or dicts
    make_filter: Callable[[list[str], list[str] | None], Any]  # (deal_ids, kinds) -> filter
    ask: grading.Ask | None = None  # the LLM, or None for the rules
    k: int = 8
    max_rewrites: int = 2
    tool_outputs: Sequence[Any] = field(default_factory=tuple)  # risks/factors of the deal


class RagState(TypedDict, total=False):
    question: str
    query: str  # this attempt's search string
    deal_ids: list[str]  # the request's deals (empty: org-wide)
    drop_words: list[str]  # words naming those deals (not searched for)
    mode: str  # "auto" (LLM when available) or "extractive"
    scope: str  # "deal" or "org"
    kinds: list[str] | None
    searched: bool  # False when the caller's filter allows nothing
    exhausted: bool  # the rewrite produced a query already tried: stop retrying
    queries: Annotated[list[str], operator.add]
    attempt: int
    passages: list[dict[str, Any]]
    grades: dict[str, float]  # activity id -> grade
    answer: str
    answer_source: str  # "extractive" or "llm"
    quotes: list[dict[str, Any]]
    grounding: dict[str, Any]
    notes: Annotated[list[str], operator.add]


def record(p: Any) -> dict[str, Any]:
    """A passage as a plain dict with an ISO date."""
    d = dict(p.as_dict()) if hasattr(p, "as_dict") else dict(p)
    date = d.get("date")
    if date is not None and not isinstance(date, str):
        d["date"] = date.isoformat()
    return d


def _query(state: RagState) -> Query:
    return parse_query(
        state.get("question") or state.get("query") or "", state.get("drop_words") or []
    )


def _ask(state: RagState, runtime: Runtime[RagContext]) -> grading.Ask | None:
    return None if state.get("mode") == "extractive" else runtime.context.ask


def route(state: RagState) -> dict[str, Any]:
    deal_ids = list(state.get("deal_ids") or [])
    found = {KIND_WORDS[w] for w in grading.words(state.get("question") or "") if w in KIND_WORDS}
    # "what did they say in calls and meetings" names kinds; a bare "call me" rarely occurs
    kinds = sorted(found) if found else None
    query = state.get("query") or state.get("question") or ""
    return {"scope": "deal" if deal_ids else "org", "kinds": kinds, "query": query, "attempt": 0}


def retrieve(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    ctx = runtime.context
    flt = ctx.make_filter(list(state.get("deal_ids") or []), state.get("kinds"))
    query = state.get("query") or ""
    if flt is None:
        return {"searched": False, "passages": [], "queries": [query]}
    k = ctx.k if state.get("scope") == "deal" else ctx.k * 2  # org-wide: more deals to list
    found = [record(p) for p in ctx.retriever.search(query, flt, k=k)]
    seen = {p["activity_id"] for p in state.get("passages") or []}
    merged = list(state.get("passages") or []) + [p for p in found if p["activity_id"] not in seen]
    return {"searched": True, "passages": merged, "queries": [query]}


def grade(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    passages = state.get("passages") or []
    grades = dict(state.get("grades") or {})
    todo = [p for p in passages if p["activity_id"] not in grades]
    ask = _ask(state, runtime)
    notes: list[str] = []
    scores: list[float] | None = None
    if ask is not None and todo:
        try:
            scores = grading.llm_grade(ask, state.get("question") or "", todo)
        except AskFailed as exc:
            notes.append(f"grade: LLM not used ({exc}); rules")
    if scores is None:
        q = _query(state)
        scores = [grading.grade(q, p) for p in todo]
    grades |= {p["activity_id"]: s for p, s in zip(todo, scores, strict=True)}
    ranked = sorted(passages, key=lambda p: -grades[p["activity_id"]])  # stable: ties keep rank
    return {"grades": grades, "passages": ranked, "notes": notes}


def after_grade(state: RagState, runtime: Runtime[RagContext]) -> str:
    if not state.get("searched", True):
        return "answer"
    weak = grading.is_weak(list((state.get("grades") or {}).values()))
    return (
        "rewrite" if weak and state.get("attempt", 0) < runtime.context.max_rewrites else "answer"
    )


def rewrite(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    attempt = state.get("attempt", 0) + 1
    question = state.get("question") or state.get("query") or ""
    ask = _ask(state, runtime)
    notes = []
    if ask is not None:
        try:
            new = grading.llm_rewrite(ask, question, state.get("queries") or [])
            return {"attempt": attempt, "query": new, "notes": [f"rewrite {attempt} (llm): {new}"]}
        except AskFailed as exc:
            notes.append(f"rewrite: LLM not used ({exc}); rules")
    tried = set(state.get("queries") or [])
    new = grading.rewrite(question, _query(state), attempt)
    if new in tried:
        new = grading.rewrite(question, _query(state), attempt + 1)
    if new in tried:
        return {"attempt": attempt, "exhausted": True, "notes": [*notes, "rewrite: nothing new"]}
    return {"attempt": attempt, "query": new, "notes": [*notes, f"rewrite {attempt}: {new}"]}


def after_rewrite(state: RagState) -> str:
    return "answer" if state.get("exhausted") else "retrieve"


def _relevant(state: RagState) -> list[dict[str, Any]]:
    grades = state.get("grades") or {}
    return [p for p in state.get("passages") or [] if grades.get(p["activity_id"], 0) > 0]


def answer(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    relevant = _relevant(state)
    q = _query(state)
    org = state.get("scope") == "org"
    quotes = select_quotes(q, relevant, per_passage=1 if org else 2, per_deal=1 if org else None)
    ask = _ask(state, runtime)
    if ask is not None and relevant:
        try:
            text = grading.llm_answer(
                ask, state.get("question") or "", relevant[: runtime.context.k]
            )
            return {"answer": text, "answer_source": "llm", "quotes": quotes}
        except AskFailed as exc:
            note = f"answer: LLM not used ({exc}); extractive"
            return {**_extractive(quotes), "notes": [note]}
    return _extractive(quotes)


def _extractive(quotes: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "answer": "\n".join(f"- {quote_line(q)}" for q in quotes),
        "answer_source": "extractive",
        "quotes": quotes,
    }


def grounding(state: RagState, runtime: Runtime[RagContext]) -> dict[str, Any]:
    passages = state.get("passages") or []
    outputs = list(runtime.context.tool_outputs)
    checked = ground(
        state.get("answer") or "", passages, outputs, question=state.get("question") or ""
    )
    update: dict[str, Any] = {"answer": checked.text, "grounding": checked.as_dict()}
    if state.get("answer_source") == "llm" and not re.search(r"\w", checked.text):
        fallback = _extractive(list(state.get("quotes") or []))
        again = ground(fallback["answer"], passages, outputs, question=state.get("question") or "")
        update |= fallback | {"answer": again.text, "grounding": again.as_dict()}
        update["notes"] = ["grounding: no LLM claim was supported; extractive answer"]
    return update


def build_rag_graph() -> StateGraph[RagState, RagContext, RagState, RagState]:
    g: StateGraph[RagState, RagContext, RagState, RagState] = StateGraph(
        RagState, context_schema=RagContext
    )
    g.add_node("route", route)
    g.add_node("retrieve", retrieve)
    g.add_node("grade", grade)
    g.add_node("rewrite", rewrite)
    g.add_node("answer", answer)
    g.add_node("grounding", grounding)
    g.add_edge(START, "route")
    g.add_edge("route", "retrieve")
    g.add_edge("retrieve", "grade")
    g.add_conditional_edges("grade", after_grade, ["rewrite", "answer"])
    g.add_conditional_edges("rewrite", after_rewrite, ["retrieve", "answer"])
    g.add_edge("answer", "grounding")
    g.add_edge("grounding", END)
    return g


_COMPILED: CompiledStateGraph[RagState, RagContext, RagState, RagState] | None = None


def rag_graph() -> CompiledStateGraph[RagState, RagContext, RagState, RagState]:
    """The compiled subgraph (no checkpointer: `checkpointer=False` also stops it from
    inheriting the parent graph's when invoked inside a node)."""
    global _COMPILED
    if _COMPILED is None:
        _COMPILED = build_rag_graph().compile(checkpointer=False)
    return _COMPILED


def run_rag(
    ctx: RagContext,
    question: str,
    *,
    deal_ids: Sequence[str] = (),
    drop_words: Sequence[str] = (),
    query: str | None = None,
    mode: str = "auto",
) -> RagState:
    """Run the subgraph once; `query` overrides the first search string (default: the
    question)."""
    if mode not in ("auto", "extractive"):
        raise ValueError(f"mode must be 'auto' or 'extractive', got {mode!r}")
    state: RagState = {
        "question": question,
        "deal_ids": list(deal_ids),
        "drop_words": list(drop_words),
        "mode": mode,
        "queries": [],
        "notes": [],
    }
    if query:
        state["query"] = query
    out = rag_graph().invoke(state, context=ctx)
    return RagState(**out)  # type: ignore[typeddict-item]
