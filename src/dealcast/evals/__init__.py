"""Labelled evaluation sets shipped inside the package (so training and tests work offline).

`data/text_snippets.jsonl`: hand-written B2B sales snippets (emails, call notes, meeting
descriptions, tasks), one JSON object per line: `id`, `kind`, `split` ("train" or "test",
fixed once and never re-drawn, so held-out numbers stay comparable; a new snippet is "test"
when int(sha256(text), 16) % 10 < 3), `labels` (a subset of the text signals) and `text`.
They were written independently of the demo org generator (`crm/demo/`), so measuring on
them is not circular. Some contain prompt-injection text;
those are labelled by what they say, like any other snippet.

Labelling guide (what makes a signal true):
- pricing: the price, cost, discount, quote, payment terms or renewal uplift of this deal is
  asked about, offered, negotiated or objected to. Not: "cost center", a quote meaning a
  citation, "price isn't the issue".
- competitor: another vendor or product (including the incumbent tool) is considered,
  compared, used today or chosen. Not: the buyer's own competitors, "competitive analysis".
- budget_confirmed: money for this purchase is approved, allocated, released or a PO issued.
- budget_risk: money for this purchase is missing, cut, frozen, uncertain or insufficient.
- contract_review: legal, procurement, security or vendor-onboarding review; MSA, DPA, NDA,
  redlines, order form, signatures. Not: "contractors", the marketing T&Cs of a giveaway.
- scheduling: a meeting or call time is proposed, confirmed, moved or cancelled. Not: a
  delivery or payment schedule, "scheduled reports", a plain meeting title.
- negative: the buyer is unhappy, doubtful, objecting, stalling or leaving (or the note says
  so). Not: pains with the status quo that the purchase would fix, negated concerns.
- positive: the buyer is enthusiastic, satisfied or committing to go ahead. Not: courtesies
  such as "great, thanks" or "perfect, see you then".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from importlib import resources

SPLITS = ("train", "test")
SNIPPETS_FILE = "text_snippets.jsonl"


@dataclass(frozen=True)
class Snippet:
    id: str
    kind: str
    split: str
    labels: frozenset[str]
    text: str


def snippet_bytes() -> bytes:
    return resources.files("dealcast.evals").joinpath("data", SNIPPETS_FILE).read_bytes()


def snippets_digest() -> str:
    """Changes whenever any snippet, label or split changes (cache keys use it)."""
    return hashlib.sha256(snippet_bytes()).hexdigest()[:16]


def load_snippets(split: str | None = None) -> list[Snippet]:
    """All snippets in file order, or only those of one split."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    rows = [json.loads(line) for line in snippet_bytes().decode().splitlines() if line.strip()]
    snippets = [
        Snippet(r["id"], r["kind"], r["split"], frozenset(r["labels"]), r["text"]) for r in rows
    ]
    return [s for s in snippets if split is None or s.split == split]
