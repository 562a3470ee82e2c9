"""Evidence tool: quoted, dated CRM passages (emails, call notes, meetings) answering a
question about one deal or the whole visible pipeline (`dealcast.rag.agentic`).

The caller's visibility and the as-of cut go into the search filter itself (a rep searches
only the deals they own, a manager their team's, finance/admin everything; nothing after
`as_of`): hidden passages are never retrieved, so no answer text has to be filtered later.

A chat request never builds the index (embedding a whole org takes minutes): it searches
the index `dealcast index` keeps up to date, and says so when the store has none yet.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any

from langchain_core.tools import InjectedToolArg, tool

from dealcast.crm.store import Store
from dealcast.jsonable import to_jsonable
from dealcast.rag.agentic import RagContext, run_rag
from dealcast.rag.grading import Ask
from dealcast.safety.ids import id_key
from dealcast.safety.policy import SEES_ALL_DEALS, Caller, Visibility
from dealcast.tools.cache import AsOfCache

K = 8
NOT_INDEXED = "the CRM activity is not indexed yet (run `dealcast index`)"
_LOCK = threading.Lock()
# read-only lookups, reused within the hour for the same data version (see tools.cache)
_OWNERS: AsOfCache[list[str]] = AsOfCache("rag visible owners", maxsize=64)
_DEAL_NAMES: AsOfCache[dict[str, str]] = AsOfCache("rag deal names", maxsize=4)
_RETRIEVERS: dict[str, Any] = {}
# the search words behind each detected risk (for "why is <deal> at risk?")
RISK_QUERY = {
    "pricing_pressure": "price discount expensive budget",
    "competitor_threat": "competitor evaluating comparison price",
    "budget_unconfirmed": "budget approval funding",
    "negative_sentiment": "priority underwhelmed skepticism ROI timing",
    "stalled": "hold priorities shifted revisit",
    "ghost_contacts": "following up voicemail heard",
    "no_decision_maker": "decision executive sign off",
    "single_threaded": "involve stakeholders team",
    "close_date_slipped": "timeline push delay",
}


def _url(store: Store) -> str:
    return str(store.engine.url)


def retriever_for(store: Store) -> Any | None:
    """The store's retriever (kept for the process: it follows index updates itself), or
    None when the store has no index yet."""
    from dealcast.rag.retriever import open_retriever

    url = _url(store)
    with _LOCK:
        found = _RETRIEVERS.get(url)
    if found is not None:
        return found
    from dealcast.rag.index import index_exists

    if not index_exists(store):
        return None
    opened = open_retriever(store, update=False)
    with _LOCK:
        return _RETRIEVERS.setdefault(url, opened)


def visible_owners(
    store: Store, as_of: datetime, user_id: str | None, role: str
) -> list[str] | None:
    """Owner Ids whose deals the caller may search; None = every deal (finance, admin)."""
    if not user_id:
        return None if role in {r.value for r in SEES_ALL_DEALS} else []
    caller = Caller(user_id, role)
    if caller.role in SEES_ALL_DEALS:
        return None

    def build(t: datetime) -> list[str]:
        users = store.as_of(t).users()
        vis = Visibility.from_users(users, caller)
        ids = {str(u) for u in users["Id"] if isinstance(u, str) and id_key(u) in vis.owners}
        return sorted(ids | ({user_id} if id_key(user_id) in vis.owners else set()))

    return list(_OWNERS.get(store, as_of, (user_id, role), build))


def _deal_names(store: Store, as_of: datetime) -> dict[str, str]:
    def build(t: datetime) -> dict[str, str]:
        opps = store.as_of(t).opportunities()
        return {str(i): str(n) for i, n in zip(opps["Id"], opps["Name"], strict=True)}

    return _DEAL_NAMES.get(store, as_of, (), build)


def signals_of(outputs: Sequence[Mapping[str, Any]], deal_ids: Sequence[str]) -> list[str]:
    """Risk messages and score factors of the deals, from risk/score tool outputs."""
    out: list[str] = []
    for o in outputs:
        for d in o.get("deals", []):
            if d.get("opportunity_id") not in deal_ids:
                continue
            out += [
                f"Risk: {r['message']}"
                for r in d.get("risks", [])
                if r["code"] != "insufficient_data"
            ]
            out += [f"Score factor: {f['text']}" for f in d.get("top_factors", [])[:3]]
    return out


def risk_query(outputs: Sequence[Mapping[str, Any]], deal_ids: Sequence[str]) -> str:
    codes = [
        r["code"]
        for o in outputs
        for d in o.get("deals", [])
        if d.get("opportunity_id") in deal_ids
        for r in d.get("risks", [])
    ]
    words = [w for c in codes for w in RISK_QUERY.get(c, "").split()]
    return " ".join(dict.fromkeys(words)) or "price budget competitor timeline decision"


def search_evidence_impl(
    store: Store,
    as_of: datetime,
    question: str | None,
    *,
    user_id: str | None,
    role: str,
    deal_ids: Sequence[str] = (),
    owner_ids: Sequence[str] = (),
    tool_outputs: Sequence[Mapping[str, Any]] = (),
    ask: Ask | None = None,
    mode: str = "auto",
    retriever: Any = None,
) -> dict[str, Any]:
    """Evidence for `question` (None: why the deals are at risk, from their risks in
    `tool_outputs`), within what the caller may see, as of `as_of`."""
    from dealcast.rag.retriever import SearchFilter

    visible = visible_owners(store, as_of, user_id, role)
    owners = list(owner_ids)
    if visible is not None:
        owners = (
            [o for o in owners if id_key(o) in {id_key(v) for v in visible}] if owners else visible
        )
    names = _deal_names(store, as_of)

    def make_filter(deals: list[str], kinds: list[str] | None) -> Any:
        if visible is not None and not owners:
            return None  # the caller may see nothing
        return SearchFilter(
            deal_ids=deals or None, owner_ids=owners or None, kinds=kinds, until=as_of
        )

    retriever = retriever if retriever is not None else retriever_for(store)
    drop = [w for d in deal_ids for w in names.get(d, "").lower().split()]
    text = question or f"why is {', '.join(names.get(d, d) for d in deal_ids)} at risk"
    if retriever is None:
        return to_jsonable(
            {
                "as_of": as_of,
                "question": text,
                "scope": "deal" if deal_ids else "org",
                "deal_ids": list(deal_ids),
                "searched": False,
                "indexed": False,
                "quotes": [],
                "deals": [],
                "passages": [],
                "signals": signals_of(tool_outputs, deal_ids),
                "notes": [NOT_INDEXED],
            }
        )
    ctx = RagContext(
        retriever=retriever,
        make_filter=make_filter,
        ask=ask,
        k=K,
        tool_outputs=tuple(tool_outputs),
    )
    query = risk_query(tool_outputs, deal_ids) if question is None else None
    out = run_rag(ctx, query or text, deal_ids=deal_ids, drop_words=drop, query=query, mode=mode)
    grades = out.get("grades") or {}
    quotes = [q | {"deal_name": names.get(str(q.get("deal_id")))} for q in out.get("quotes") or []]
    relevant = [p for p in out.get("passages") or [] if grades.get(p["activity_id"], 0) > 0]
    counts: dict[str, int] = {}
    for p in relevant:
        if p.get("deal_id"):
            counts[str(p["deal_id"])] = counts.get(str(p["deal_id"]), 0) + 1
    return to_jsonable(
        {
            "as_of": as_of,
            "question": text,
            "scope": out.get("scope"),
            "deal_ids": list(deal_ids),
            "searched": out.get("searched", True),
            "indexed": True,
            "answer": out.get("answer") or "",
            "answer_source": out.get("answer_source"),
            "quotes": quotes,
            "deals": [
                {"deal_id": d, "name": names.get(d), "mentions": n} for d, n in counts.items()
            ],
            "passages": [
                {
                    "activity_id": p["activity_id"],
                    "kind": p.get("kind"),
                    "date": str(p.get("date") or "")[:10],
                    "deal_id": p.get("deal_id"),
                    "grade": grades.get(p["activity_id"]),
                }
                for p in out.get("passages") or []
            ],
            "signals": signals_of(tool_outputs, deal_ids),
            "grounding": grounding_summary(out.get("grounding") or {}),
            "queries": out.get("queries") or [],
            "notes": out.get("notes") or [],
        }
    )


def grounding_summary(grounding: Mapping[str, Any]) -> dict[str, Any]:
    """The grounding check without the text of the claims it removed: this output is fed
    to the narration prompt and counts as fact for the evaluator, so a removed (invented or
    injected) claim must not come back through it."""
    out = {k: v for k, v in grounding.items() if k != "unsupported"}
    return out | {"removed": len(grounding.get("unsupported") or [])} if grounding else out


@tool
def search_evidence(
    question: str,
    deal_ids: list[str],
    store: Annotated[Any, InjectedToolArg],
    as_of: Annotated[datetime, InjectedToolArg],
    user_id: Annotated[str | None, InjectedToolArg],
    role: Annotated[str, InjectedToolArg],
) -> dict[str, Any]:
    """Quoted, dated evidence from CRM emails, call notes and meetings answering a question
    ("what did the CFO say about budget?", "which deals mention PipeIQ?"), for the given
    opportunity Ids or, with an empty list, every deal the caller may see. Each quote has its
    activity Id, date and who said it."""
    return search_evidence_impl(
        store, as_of, question, user_id=user_id, role=role, deal_ids=deal_ids
    )
