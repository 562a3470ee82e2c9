"""The RAG golden set, built from a demo org: questions and the activity ids that answer
them, labelled by what the generator is known to write (`crm.demo.phrases`, `crm.demo.names`).

No id is hand-picked. An activity answers a question when its text carries the generator's
own wording for the topic: a competitor's name (`names.COMPETITORS`), or a sentence of the
topic's buyer-side templates (inbound email, call note, meeting note) for pricing, budget
and security, with every {slot} matched as free text. Question types:
- competitor_org: "Which deals mention <competitor>?" (org-wide: every activity naming it);
- competitor_deal: "Which competitor is <deal> looking at?" (the deal's activities naming one);
- pricing / budget / security: "What did the buyer say about ... on <deal>?";
- budget_title: "What did the <title> say about budget on <deal>?" (only that contact's
  budget activities; the title comes from the contact record).
Deals are taken in Id order, `per_type` of each type, so the set is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from dealcast.crm.activities import activity_frame
from dealcast.crm.demo import names, phrases
from dealcast.crm.store import Store

BUYER_MEDIA = ("in", "call", "meet")
TOPICS = {
    "pricing": ("pricing",),
    "budget": ("budget_pending", "budget_approved", "budget_frozen"),
    "security": ("security",),
}
QUESTION = {
    "pricing": "What did the buyer say about pricing or a discount on {deal}?",
    "budget": "What did they say about budget on {deal}?",
    "security": "Where does the security review stand on {deal}?",
    "competitor_deal": "Which competitor is {deal} looking at?",
    "budget_title": "What did the {title} say about budget on {deal}?",
    "competitor_org": "Which deals mention {competitor}?",
}


@dataclass(frozen=True)
class GoldenQuestion:
    id: str
    kind: str  # a key of QUESTION
    question: str
    deal_ids: tuple[str, ...]  # empty: org-wide
    relevant: frozenset[str]  # activity ids that answer it

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "question": self.question,
            "deal_ids": list(self.deal_ids),
            "relevant": sorted(self.relevant),
        }


def template_pattern(templates: Iterable[str]) -> re.Pattern[str]:
    """One regex matching any of the templates, each {slot} as a short run of text."""
    parts = []
    for t in templates:
        escaped = re.escape(t)
        parts.append(re.sub(r"\\\{[a-z_]+\\\}", ".{1,80}?", escaped))
    return re.compile("|".join(parts))


def topic_pattern(topic: str) -> re.Pattern[str]:
    """The topic's buyer-side sentences; for security (a status question, not "what did
    they say") also the rep's emails and to-dos."""
    media = BUYER_MEDIA + (("out", "todo") if topic == "security" else ())
    templates = [s for t in TOPICS[topic] for m in media for s in phrases.TOPICS[t].get(m, ())]
    return template_pattern(templates)


def _activities(store: Store, as_of: datetime) -> pd.DataFrame:
    snap = store.as_of(as_of)
    acts = activity_frame(snap)
    acts = acts[acts["Known"] <= pd.Timestamp(as_of)]
    acts = acts[acts["OpportunityId"].notna()]
    contacts = snap.contacts()[["Id", "Email", "Title"]]
    by_email = {
        str(e).strip().lower(): t for e, t in zip(contacts["Email"], contacts["Title"], strict=True)
    }
    by_id = dict(zip(contacts["Id"], contacts["Title"], strict=True))
    titles = [
        by_id.get(c) or by_email.get(str(c).strip().lower()) if isinstance(c, str) else None
        for c in acts["ContactId"]
    ]
    return (
        acts.assign(Title=pd.Series(titles, index=acts.index, dtype=object))
        .sort_values(["OpportunityId", "Id"])
        .reset_index(drop=True)
    )


def build_golden_set(store: Store, as_of: datetime, per_type: int = 6) -> list[GoldenQuestion]:
    """The golden questions of the store's demo org as of `as_of` (see the module doc)."""
    acts = _activities(store, as_of)
    opps = store.as_of(as_of).opportunities()
    deal_names = dict(zip(opps["Id"], opps["Name"], strict=True))
    text = acts["Text"].fillna("")
    out: list[GoldenQuestion] = []

    def add(kind: str, deals: tuple[str, ...], ids: Iterable[str], **slots: str) -> None:
        rel = frozenset(str(i) for i in ids)
        if rel:
            q = QUESTION[kind].format(**slots)
            out.append(GoldenQuestion(f"{kind}-{len(out)}", kind, q, deals, rel))

    for competitor in names.COMPETITORS:
        hit = text.str.contains(rf"\b{re.escape(competitor)}\b", regex=True)
        add("competitor_org", (), acts.loc[hit, "Id"], competitor=competitor)
    named = text.str.contains("|".join(names.COMPETITORS), regex=True)
    for deal in sorted(acts.loc[named, "OpportunityId"].unique())[:per_type]:
        mask = named & (acts["OpportunityId"] == deal)
        add("competitor_deal", (deal,), acts.loc[mask, "Id"], deal=deal_names.get(deal, deal))
    for topic in TOPICS:
        hit = text.str.contains(topic_pattern(topic), regex=True)
        for deal in sorted(acts.loc[hit, "OpportunityId"].unique())[:per_type]:
            mask = hit & (acts["OpportunityId"] == deal)
            add(topic, (deal,), acts.loc[mask, "Id"], deal=deal_names.get(deal, deal))
    budget = text.str.contains(topic_pattern("budget"), regex=True) & acts["Title"].isin(
        names.EXEC_TITLES
    )
    pairs = acts.loc[budget, ["OpportunityId", "Title"]].drop_duplicates()
    for deal, title in pairs.itertuples(index=False):
        if sum(q.kind == "budget_title" for q in out) >= per_type:
            break
        mask = budget & (acts["OpportunityId"] == deal) & (acts["Title"] == title)
        add(
            "budget_title",
            (deal,),
            acts.loc[mask, "Id"],
            deal=deal_names.get(deal, deal),
            title=str(title),
        )
    return out
