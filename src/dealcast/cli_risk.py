"""`dealcast risks`: the risks of every open deal (or one) as of the as-of time, with evidence.

JSON: {"as_of": ..., "deals": [{"opportunity_id", "name", "stage", "risks": [{"code",
"severity", "message", "evidence": [{"kind", "id", "date", "quote"}]}]}]}, every open deal at
T (an empty `risks` list means none found), worst first within a deal.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dealcast.cli_common import AsOfOpt, DbOpt, Format, FormatOpt, emit_json, out, resolve
from dealcast.crm.store import Store
from dealcast.risk.context import RiskContext
from dealcast.risk.detectors import detect
from dealcast.risk.models import SEVERITIES

TABLE_LIMIT = 50  # deals in the table view; JSON always has every open deal
STYLE = {"high": "red", "medium": "yellow", "low": "dim"}


def risk_rows(store: Store, as_of: datetime, deal: str | None = None) -> list[dict[str, Any]]:
    """Per-deal rows as in the JSON output (one deal when `deal` is given)."""
    ctx = RiskContext.load(store, as_of, [deal] if deal else None)
    if deal and deal not in set(ctx.deals["OpportunityId"]):
        raise ValueError(
            f"no open deal {deal} as of {as_of:%Y-%m-%d %H:%M}; "
            f"list the open deals with `dealcast deals --as-of ...`"
        )
    found = detect(ctx)
    deals = ctx.deals[["OpportunityId", "Name", "StageName"]].astype(str)
    return [
        {
            "opportunity_id": deal_id,
            "name": name,
            "stage": stage,
            "risks": [r.as_dict() for r in found[deal_id]],
        }
        for deal_id, name, stage in deals.itertuples(index=False)
    ]


def cmd_risks(
    deal: Annotated[str | None, typer.Option("--deal", help="Only this opportunity Id.")] = None,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Risks of every open deal (or one) with the evidence behind them."""
    run = resolve(db, as_of, fmt)
    rows = risk_rows(run.store(), run.as_of, deal)
    if run.json:
        emit_json({"as_of": run.as_of, "deals": rows})
    elif deal:
        _deal_table(rows[0], run.as_of)
    else:
        _pipeline_table(rows, run.as_of)


def _worst(row: dict[str, Any]) -> tuple[int, int]:
    ranks = [
        SEVERITIES.index(r["severity"]) for r in row["risks"] if r["code"] != "insufficient_data"
    ]
    return (max(ranks, default=-1), len(ranks))


def _pipeline_table(rows: list[dict[str, Any]], as_of: datetime) -> None:
    flagged = sum(1 for r in rows if _worst(r)[1])
    table = Table(
        title=f"Risks as of {as_of:%Y-%m-%d}: {flagged:,} of {len(rows):,} open deals at risk"
    )
    table.add_column("deal", no_wrap=True)
    for col in ("name", "stage", "risks", "worst"):
        table.add_column(col)
    for row in sorted(rows, key=_worst, reverse=True)[:TABLE_LIMIT]:
        risks = row["risks"]
        codes = " ".join(f"[{STYLE[r['severity']]}]{r['code']}[/]" for r in risks) or "-"
        table.add_row(
            row["opportunity_id"],
            escape(str(row["name"])),
            row["stage"],
            codes,
            escape(risks[0]["message"]) if risks else "",
        )
    out.print(table)
    if len(rows) > TABLE_LIMIT:
        out.print(f"[dim]{len(rows) - TABLE_LIMIT:,} more deals: use --format json or --deal[/]")


def _deal_table(row: dict[str, Any], as_of: datetime) -> None:
    table = Table(
        title=f"{escape(str(row['name']))} ({row['opportunity_id']}, {row['stage']}) "
        f"as of {as_of:%Y-%m-%d}"
    )
    for col in ("risk", "severity", "message", "evidence"):
        table.add_column(col)
    for r in row["risks"]:
        evidence = "\n".join(
            f"{e['kind']} {e['id']} {str(e['date'] or '')[:10]}: {escape(e['quote'])}"
            for e in r["evidence"]
        )
        style = STYLE[r["severity"]]
        table.add_row(r["code"], f"[{style}]{r['severity']}[/]", escape(r["message"]), evidence)
    if not row["risks"]:
        table.add_row("-", "", "no risks found", "")
    out.print(table)
