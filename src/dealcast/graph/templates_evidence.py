"""Templated answers from the evidence tool (`tools.evidence`): quoted, dated CRM activity,
each quote cited by activity id, date and who said it; for one deal also its risk signals
and score. Every string shown is copied from the tool outputs (the evaluator checks)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dealcast.graph.templates import Rendered, _deal_cite, _risk_lines, _score_line, _title, ok

RISK_QUOTES = 3  # quotes added under a "why at risk" answer


def quote_line(q: Mapping[str, Any]) -> str:
    return f'"{q["quote"]}" ({q["who"]}, {q["kind"]} {q["activity_id"]}, {q["date"]})'


def quote_cites(quotes: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "kind": q["kind"],
            "id": q["activity_id"],
            "date": q["date"],
            "who": q["who"],
            "deal_id": q.get("deal_id"),
        }
        for q in quotes
    ]


def _not_found(ev: Mapping[str, Any]) -> str:
    if ev.get("indexed") is False:
        return f"I can't quote CRM activity: {'; '.join(ev.get('notes') or [])}."
    if not ev.get("searched", True):
        return "You have no deals whose CRM activity I may search."
    return "No email, call note or meeting I can see answers that."


def render_evidence(results: Mapping[str, Any]) -> Rendered:
    """The answer of the `evidence` intent."""
    ev = ok(results, "evidence")
    if ev is None:
        return Rendered("I could not search the CRM activity.", {"intent": "evidence"})
    quotes = list(ev.get("quotes") or [])
    data: dict[str, Any] = {"intent": "evidence", "evidence": ev}
    cites = quote_cites(quotes)
    lines: list[str] = []
    if ev.get("scope") == "org":
        deals = [d for d in ev.get("deals") or [] if d.get("name")]
        if deals:
            lines.append(f"{len(deals)} deal(s) with matching activity, best match first:")
        for q in quotes:
            name = f"**{q['deal_name']}** ({q['deal_id']}): " if q.get("deal_name") else ""
            lines.append(f"- {name}{quote_line(q)}")
        cites += [{"kind": "deal", "id": d["deal_id"], "name": d["name"]} for d in deals]
    else:
        risk, score = ok(results, "risk"), ok(results, "score")
        risk_by = {d["opportunity_id"]: d for d in (risk or {}).get("deals", [])}
        score_by = {d["opportunity_id"]: d for d in (score or {}).get("deals", [])}
        for deal_id in ev.get("deal_ids") or []:
            r, s = risk_by.get(deal_id), score_by.get(deal_id)
            if r or s:
                lines.append(_title({**(s or {}), **(r or {})}))
                cites.insert(0, _deal_cite({**(s or {}), **(r or {})}))
        if ev.get("answer_source") == "llm" and ev.get("answer"):
            lines += [ev["answer"], "Sources:"]
        elif quotes:
            lines.append("What the CRM activity says:")
        lines += [f"- {quote_line(q)}" for q in quotes]
        for deal_id in ev.get("deal_ids") or []:
            r, s = risk_by.get(deal_id), score_by.get(deal_id)
            real = [x for x in (r or {}).get("risks", []) if x["code"] != "insufficient_data"]
            if real:
                lines.append("Risk signals:")
                lines += _risk_lines(real, evidence=1)
            if s is not None:
                lines.append(_score_line(s))
                lines += [f"- {f['text']}" for f in s.get("top_factors", [])[:3]]
    if not quotes:
        lines.insert(1 if lines and ev.get("scope") != "org" else 0, _not_found(ev))
    return Rendered("\n".join(lines), data, cites)


def with_risk_evidence(out: Rendered, results: Mapping[str, Any]) -> Rendered:
    """A deal-risk answer plus the quotes behind its risks."""
    ev = ok(results, "evidence")
    quotes = list((ev or {}).get("quotes") or [])[:RISK_QUOTES]
    if not quotes:
        return out
    text = out.text + "\nIn their own words:\n" + "\n".join(f"- {quote_line(q)}" for q in quotes)
    data = {**out.data, "evidence_quotes": quotes}
    return Rendered(text, data, [*out.citations, *quote_cites(quotes)])
