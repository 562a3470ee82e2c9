"""Answers without an LLM: text, structured data and citations built only from the tool
outputs recorded in state (`results`). Every number shown is a value of those outputs,
formatted with `money`/`pct`, so the evaluator can trace it back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dealcast.prompts.agent import HELP_TEXT, WHAT_IF_HELP, WHICH_DEAL

SEVERITY_WORD = {"high": "High", "medium": "Medium", "low": "Low"}
LIST_SHOWN = 10
KIND_LABEL = {
    "refresh": "data freshness",
    "score": "deal scores",
    "risk": "deal risks",
    "list_deals": "deal list",
    "forecast": "forecast",
    "scenario": "what-if scenario",
    "changes": "what changed",
    "evidence": "CRM evidence",
}


@dataclass
class Rendered:
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    citations: list[dict[str, Any]] = field(default_factory=list)


def money(value: float | None) -> str:
    if value is None:
        return "n/a"
    sign = "-" if value < 0 else ""
    v = abs(float(value))
    if v >= 1e6:
        return f"{sign}${v / 1e6:.2f}M"
    if v >= 1e4:
        return f"{sign}${v / 1e3:.1f}K"
    return f"{sign}${v:,.0f}"


def signed_money(value: float | None) -> str:
    if value is None:
        return "n/a"
    return ("+" if value >= 0 else "") + money(value)


def pct(value: float | None, decimals: int = 1) -> str:
    if value is None:
        return "n/a"
    return f"{float(value):.{decimals}f}%"


def ok(results: Mapping[str, Any], key: str) -> dict[str, Any] | None:
    row = results.get(key)
    if row and row.get("ok"):
        return dict(row["output"])
    return None


def missing_parts(results: Mapping[str, Any], plan: Sequence[Mapping[str, Any]]) -> list[str]:
    out = []
    for task in plan:
        row = results.get(task["id"])
        if row is None:
            out.append(f"{KIND_LABEL.get(task['kind'], task['kind'])} (not run)")
        elif not row.get("ok"):
            out.append(f"{KIND_LABEL.get(task['kind'], task['kind'])} ({row.get('error')})")
    return out


def _deal_cite(d: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "kind": "deal",
        "id": d.get("opportunity_id") or d.get("id"),
        "name": d.get("name"),
        "owner_id": d.get("owner_id"),
    }


def _evidence_cites(risks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for r in risks:
        for e in r.get("evidence", []):
            out.append({"kind": e["kind"], "id": e["id"], "date": e.get("date"), "risk": r["code"]})
    return out


def _title(d: Mapping[str, Any]) -> str:
    owner = f", owner {d['owner']}" if d.get("owner") else ""
    stage = f", {d['stage']}" if d.get("stage") else ""
    return f"**{d.get('name')}** ({d.get('opportunity_id') or d.get('id')}{stage}{owner})"


def _score_line(s: Mapping[str, Any]) -> str:
    how = "rule-based score" if s.get("model_version") == "rules" else f"model {s['model_version']}"
    review = "; needs review" if s.get("needs_review") else ""
    stale = "; stale (last stored score)" if s.get("stale") else ""
    return (
        f"Win probability {pct(s['win_probability'])} "
        f"(confidence {s['confidence']:g} of 100, {how}{review}{stale})."
    )


def _risk_lines(risks: Sequence[Mapping[str, Any]], evidence: int = 2) -> list[str]:
    lines = []
    for r in risks:
        ev = [
            f"{e['kind']} {e['id']} on {str(e.get('date') or '')[:10]}"
            for e in r.get("evidence", [])[:evidence]
        ]
        cite = f" (evidence: {'; '.join(ev)})" if ev else ""
        lines.append(f"- {SEVERITY_WORD.get(r['severity'], r['severity'])}: {r['message']}{cite}")
    return lines


def render_deal(intent: str, results: Mapping[str, Any]) -> Rendered:
    risk = ok(results, "risk")
    score = ok(results, "score")
    risk_by = {d["opportunity_id"]: d for d in (risk or {}).get("deals", [])}
    score_by = {d["opportunity_id"]: d for d in (score or {}).get("deals", [])}
    ids = list(dict.fromkeys([*risk_by, *score_by]))
    parts: list[str] = []
    data: dict[str, Any] = {"intent": intent, "deals": []}
    cites: list[dict[str, Any]] = []
    for deal_id in ids:
        r, s = risk_by.get(deal_id), score_by.get(deal_id)
        head = r or s or {}
        cites.append(_deal_cite({**(s or {}), **(r or {})}))
        block = [_title({**(s or {}), **head})]
        entry: dict[str, Any] = {"opportunity_id": deal_id, "name": head.get("name")}
        if intent == "deal_risk":
            risks = [x for x in (r or {}).get("risks", [])]
            if r is not None:
                real = [x for x in risks if x["code"] != "insufficient_data"]
                if real:
                    block.append(f"{len(real)} risk(s) found:")
                else:
                    block.append("No risks found by the detectors.")
                block += _risk_lines(risks)
                cites += _evidence_cites(risks)
            entry["risks"] = risks
            if s is not None:
                block.append(_score_line(s))
                block += [f"- {f['text']}" for f in s.get("top_factors", [])[:3]]
        elif intent == "deal_actions":
            if s is not None:
                actions = s.get("next_best_actions", [])
                entry["next_best_actions"] = actions
                if actions:
                    block.append("What to do next:")
                    for a in actions:
                        gain = a.get("expected_change_pts")
                        why = (
                            f" (expected +{gain:g} pts win probability)"
                            if gain is not None
                            else f" (answers: {', '.join(a.get('addresses', []))}; "
                            "gain not measured without a trained model)"
                        )
                        block.append(f"- {a['text']}{why}")
                else:
                    block.append(
                        "No action stands out: the detectors found no risk a playbook "
                        "action answers and no model measured one."
                    )
                block.append(_score_line(s))
            if r is not None:
                risks = r.get("risks", [])
                entry["risks"] = risks
                if risks:
                    block.append("Risks behind this:")
                    block += _risk_lines(risks, evidence=1)
                cites += _evidence_cites(risks)
        else:  # deal_explain
            if s is not None:
                block.append(_score_line(s))
                factors = s.get("top_factors", [])
                if factors:
                    block.append("What drives it:")
                    block += [f"- {f['text']}" for f in factors[:5]]
                if s.get("imputed"):
                    block.append(f"Filled with typical values: {', '.join(s['imputed'])}.")
                entry |= {k: s.get(k) for k in ("win_probability", "confidence", "top_factors")}
        if s is not None:
            entry |= {
                "win_probability": s.get("win_probability"),
                "confidence": s.get("confidence"),
                "needs_review": s.get("needs_review"),
                "model_version": s.get("model_version"),
            }
        data["deals"].append(entry)
        parts.append("\n".join(block))
    if not ids:
        parts.append("I could not compute anything for this deal.")
    return Rendered("\n\n".join(parts), data, cites)


def render_forecast(args: Mapping[str, Any], results: Mapping[str, Any]) -> Rendered:
    f = ok(results, "forecast")
    if f is None:
        return Rendered("I could not compute the forecast.", {"intent": "forecast"})
    label = f["period"]
    scope = args.get("scope", "org")
    lines: list[str] = []
    data: dict[str, Any] = {"intent": "forecast", "period": label, "scope": scope}
    cites: list[dict[str, Any]] = []

    def money_block(row: Mapping[str, Any], who: str) -> list[str]:
        out = [
            f"{who}: expected {money(row['expected'])}, P10-P90 {money(row.get('p10'))} to "
            f"{money(row.get('p90'))} (P50 {money(row.get('p50'))}); closed won so far "
            f"{money(row['closed_won'])}.",
            f"Open deals stated to close in {label}: Commit {money(row.get('commit'))}, "
            f"Best Case {money(row.get('best_case'))}, Pipeline {money(row.get('pipeline'))}.",
        ]
        if row.get("quota"):
            out.append(
                f"Quota {money(row['quota'])}, coverage {pct((row.get('coverage') or 0) * 100)}."
            )
        return out

    if scope == "team" and f.get("team"):
        team = f["team"]
        lines.append(f"Forecast for {label}, team of {team['name']} ({team['team_size']} people):")
        lines += money_block(team, "Team")
        data["team"] = team
    elif scope == "owner" and f.get("by_owner"):
        if args.get("team_requested"):
            lines.append("No one reports to them in the CRM, so here are their own deals.")
        lines.append(f"Forecast for {label}:")
        for row in f["by_owner"]:
            lines += money_block(row, str(row.get("name")))
        data["owners"] = f["by_owner"]
    else:
        if scope != "org":
            lines.append("No forecast rows for that person or team; here is the whole org.")
        if args.get("focus") == "commit":
            lines.append(
                f"Commit for {label}: {money(f.get('commit'))} in open Commit deals, on top of "
                f"{money(f['closed_won'])} already closed won."
            )
        lines.append(f"Forecast for {label} (whole org, {f['open_deals']} open deals):")
        lines += money_block(f, "Org")
        data["org"] = {k: v for k, v in f.items() if k not in ("by_owner", "team")}
    if f.get("unreliable"):
        lines.append(f"Interval flagged unreliable: {f.get('unreliable_reason')}.")
    lines.append(
        f"Method: {str(f.get('method', '')).replace('_', ' ')}, "
        f"{f.get('n_sims')} simulations, seed {f.get('seed')}, model {f.get('model_version')}."
    )
    data["method"] = {k: f.get(k) for k in ("method", "n_sims", "seed", "model_version")}
    return Rendered("\n".join(lines), data, cites)


def render_changes(args: Mapping[str, Any], results: Mapping[str, Any]) -> Rendered:
    w = ok(results, "changes")
    if w is None:
        return Rendered("I could not work out what changed.", {"intent": "changes"})
    s, e = w["start"], w["end"]
    lines = [
        f"What changed in {w['period']} between {str(w['since'])[:10]} and "
        f"{str(w['until'])[:10]}: pipeline {money(s['pipeline'])} -> {money(e['pipeline'])}, "
        f"forecast {money(s['forecast'])} -> {money(e['forecast'])}."
    ]
    cites = []
    for b in w["buckets"]:
        if not b["count"]:
            continue
        names = ", ".join(str(d["name"]) for d in b["deals"][:3])
        lines.append(
            f"- {b['label']}: {b['count']} deal(s), pipeline {signed_money(b['pipeline_change'])}, "
            f"forecast {signed_money(b['forecast_change'])} ({names})"
        )
        cites += [
            {"kind": "deal", "id": d["id"], "name": d["name"], "owner_id": d.get("owner_id")}
            for d in b["deals"]
        ]
    if len(lines) == 1:
        lines.append("Nothing moved the pipeline or the forecast.")
    lines.append(f"{w['unchanged']} deal(s) unchanged.")
    data = {"intent": "changes", "waterfall": w}
    return Rendered("\n".join(lines), data, cites)


def _describe_change(c: Mapping[str, Any], names: Mapping[str, str]) -> str:
    deal = names.get(str(c.get("deal")), str(c.get("deal")))
    op = c.get("op")
    if op == "move":
        return f"{deal} closes on {c['close_date']}"
    if op == "remove":
        return f"you lose {deal}"
    if op == "amount":
        return f"{deal} closes at {money(c['amount'])}"
    if op == "probability":
        return f"{deal} has a {pct(c['probability'] * 100)} chance"
    if op == "stage":
        return f"{deal} moves to {c['stage']}"
    if op == "exclude_owner":
        return f"the deals of {c['owner']} leave the pipeline"
    return str(op)


def render_what_if(results: Mapping[str, Any], names: Mapping[str, str]) -> Rendered:
    sc = ok(results, "scenario")
    if sc is None:
        return Rendered("I could not run that scenario.", {"intent": "what_if"})
    names = {**sc.get("deal_names", {}), **names}
    desc = "; ".join(_describe_change(c, names) for c in sc["changes"])
    lines = [f"What if {desc}:"]
    for p in sc["periods"]:
        b, s, d = p["baseline"], p["scenario"], p["delta"]
        lines.append(
            f"- {p['period']}: expected {money(b['expected'])} -> {money(s['expected'])} "
            f"({signed_money(d['expected'])}); P50 {money(b.get('p50'))} -> {money(s.get('p50'))}."
        )
    cites = []
    if sc["drivers"]:
        lines.append("Deals behind the difference:")
        for d in sc["drivers"][:5]:
            lines.append(
                f"- {d['name']}: {signed_money(d['total_delta'])} expected ({d['change']})"
            )
            cites.append({"kind": "deal", "id": d["deal_id"], "name": d["name"]})
    lines.append(
        f"Same seed ({sc['seed']}) and {sc['n_sims']} simulations for both; CRM data unchanged."
    )
    return Rendered("\n".join(lines), {"intent": "what_if", "scenario": sc}, cites)


def render_list(args: Mapping[str, Any], results: Mapping[str, Any]) -> Rendered:
    listing = ok(results, "list")
    if listing is None:
        return Rendered("I could not list the deals.", {"intent": "list_deals"})
    scores = {d["opportunity_id"]: d for d in (ok(results, "score") or {}).get("deals", [])}
    risks = {d["opportunity_id"]: d for d in (ok(results, "risk") or {}).get("deals", [])}
    rows = list(listing["deals"])
    sort = args.get("sort", "amount")
    if sort == "risk" and risks:
        order = {"high": 3, "medium": 2, "low": 1}

        def worst(d: Mapping[str, Any]) -> tuple[int, int, float]:
            rs = [
                r
                for r in risks.get(d["id"], {}).get("risks", [])
                if r["code"] != "insufficient_data"
            ]
            return (max((order[r["severity"]] for r in rs), default=0), len(rs), d["amount"] or 0)

        rows = sorted([d for d in rows if d["id"] in risks], key=worst, reverse=True)
    elif sort == "probability" and scores:
        rows = sorted(
            [d for d in rows if d["id"] in scores], key=lambda d: scores[d["id"]]["win_probability"]
        )
    filters = []
    if listing["filters"]["stage"]:
        filters.append(f"in {listing['filters']['stage']}")
    if listing["filters"]["category"]:
        filters.append(f"in {listing['filters']['category']}")
    owners = (
        sorted({str(d["owner"]) for d in listing["deals"]})
        if listing["filters"]["owner_ids"]
        else []
    )
    if owners:
        filters.append(f"owned by {', '.join(owners)}")
    where = " " + " ".join(filters) if filters else ""
    head = f"{listing['count']} open deal(s){where}, {money(listing['total_amount'])} in all"
    if sort == "risk" and risks:
        head += f"; the {len(rows)} largest, riskiest first:"
    elif sort == "probability" and scores:
        head += f"; the {len(rows)} largest, least likely to close first:"
    else:
        head += ", largest first:"
    lines = [head]
    cites = []
    shown = rows[:LIST_SHOWN]
    for d in shown:
        extra = ""
        if d["id"] in scores:
            extra += f"; win {pct(scores[d['id']]['win_probability'])}"
        if d["id"] in risks:
            rs = [r for r in risks[d["id"]]["risks"] if r["code"] != "insufficient_data"]
            codes = ", ".join(r["code"].replace("_", " ") for r in rs) or "no risks"
            extra += f"; {codes}"
        lines.append(
            f"- {d['name']} ({d['id']}): {d['owner']}, {d['stage']}, {money(d['amount'])}, "
            f"closes {d['close_date']}{extra}"
        )
        cites.append({"kind": "deal", "id": d["id"], "name": d["name"], "owner_id": d["owner_id"]})
    if len(rows) > LIST_SHOWN:
        lines.append(f"...and {len(rows) - LIST_SHOWN} more in the data.")
    data = {
        "intent": "list_deals",
        "sort": sort,
        "deals": [
            d
            | {
                "win_probability": scores.get(d["id"], {}).get("win_probability"),
                "risks": risks.get(d["id"], {}).get("risks"),
            }
            for d in rows
        ],
        "count": listing["count"],
        "total_amount": listing["total_amount"],
    }
    return Rendered("\n".join(lines), data, cites)


def render_refresh(results: Mapping[str, Any]) -> Rendered:
    f = ok(results, "refresh")
    if f is None:
        return Rendered("I could not read the data freshness.", {"intent": "refresh"})
    if f.get("last_import_id") is None:
        text = (
            "No import or sync has finished yet: "
            "load a Data Export with `dealcast ingest export DIR`."
        )
    else:
        flag = " (flagged: below 90, review the quarantine)" if f.get("quality_flagged") else ""
        text = (
            f"Data as of {str(f['as_of'])[:10]}: last {f['last_import_kind']} import finished "
            f"{str(f['last_import_finished_at'])[:16].replace('T', ' ')}, data quality "
            f"{f['quality_score']} of 100{flag}. Newest opportunity change: "
            f"{str(f['newest_change_at'])[:10]} ({f['data_age_days']} days before the as-of time)."
        )
    text += " " + _sync_line(f.get("sync"))
    return Rendered(text, {"intent": "refresh", "freshness": f})


def _sync_line(sync: Mapping[str, Any] | None) -> str:
    if not sync:
        return "No sync was started: the question is about a past date."
    if not sync.get("attempted"):
        return f"No sync was started: {sync.get('reason')}."
    if not sync.get("ok"):
        return f"A Salesforce sync was tried: {sync.get('reason')}."
    changed = sync.get("changed_deals")
    what = "every deal (a full sync)" if changed is None else f"{changed} changed deals"
    return (
        f"Synced with Salesforce just now ({sync.get('api_calls')} API calls): {what}, "
        f"{sync.get('rescored', 0)} rescored."
    )


def render_reply(reply: Mapping[str, Any]) -> Rendered:
    kind = reply.get("kind")
    if kind == "ambiguous":
        lines = ["That name matches several open deals. Which one do you mean?"]
        cites = []
        for d in reply.get("deals", []):
            lines.append(
                f"- {d['name']} ({d['id']}): {d['owner']}, {d['stage']}, {money(d['amount'])}, "
                f"closes {d['close_date']}"
            )
            cites.append(
                {"kind": "deal", "id": d["id"], "name": d["name"], "owner_id": d["owner_id"]}
            )
        lines.append('Reply with its Id, a more precise name, or "the first/second one".')
        return Rendered(
            "\n".join(lines), {"intent": "clarify", "candidates": reply.get("deals", [])}, cites
        )
    if kind == "which_deal":
        return Rendered(WHICH_DEAL, {"intent": "clarify"})
    if kind == "what_if_help":
        return Rendered(WHAT_IF_HELP, {"intent": "clarify"})
    return Rendered(HELP_TEXT, {"intent": "help"})


def render(
    intent: str,
    plan: Sequence[Mapping[str, Any]],
    results: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
) -> Rendered:
    """The templated answer for this turn's intent."""
    args = {t["id"]: t["args"] for t in plan}
    reply = ok(results, "reply")
    if reply is not None:
        out = render_reply(reply)
    elif intent in ("deal_risk", "deal_actions", "deal_explain"):
        out = render_deal(intent, results)
        if intent == "deal_risk":  # lazy imports: templates_evidence imports this module
            from dealcast.graph.templates_evidence import with_risk_evidence

            out = with_risk_evidence(out, results)
    elif intent == "evidence":
        from dealcast.graph.templates_evidence import render_evidence

        out = render_evidence(results)
    elif intent == "forecast":
        out = render_forecast(args.get("forecast", {}), results)
    elif intent == "changes":
        out = render_changes(args.get("changes", {}), results)
    elif intent == "what_if":
        out = render_what_if(results, names or {})
    elif intent == "list_deals":
        out = render_list(args.get("list", {}), results)
    elif intent == "refresh":
        out = render_refresh(results)
    else:
        out = render_reply({"kind": "help"})
    missing = missing_parts(results, plan)
    if missing:
        out.text += "\n\nPartial answer: could not compute " + "; ".join(missing) + "."
    return out
