"""`dealcast demo`: the main job on the embedded default, end to end.

generate the demo org (if absent) -> ingest -> pipeline summary as of the as-of time.
Scoring, risks and the Monte Carlo forecast join this flow as they land.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.table import Table

from dealcast import cli_render
from dealcast.cli_common import Run, emit_json, err, out
from dealcast.config import get_settings
from dealcast.crm.demo import generate_demo_org
from dealcast.crm.export_import import import_export


def run_demo(run: Run, *, seed: int, scale: float) -> None:
    settings = get_settings()
    folder = settings.data_dir / f"demo-org-seed{seed}-scale{scale:g}"
    if not (folder / "Opportunity.csv").is_file():
        err.print(f"Generating the demo org (seed {seed}, scale {scale:g}) into {folder} ...")
        generate_demo_org(folder, seed=seed, scale=scale, today=run.as_of.date())
    store = run.store()
    err.print(f"Ingesting {folder} into {run.db_url} ...")
    with cli_render.import_progress() as hook:
        report = import_export(store, folder, actor=settings.actor, as_of=run.as_of, progress=hook)
    snap = store.as_of(run.as_of)
    open_deals = snap.open_opportunities()
    summary = pipeline_summary(open_deals, run)
    if run.json:
        emit_json({"import": report.as_dict(), "pipeline": summary})
        return
    cli_render.import_report(report)
    _print_pipeline(summary, run)


def pipeline_summary(open_deals: pd.DataFrame, run: Run) -> dict[str, Any]:
    amount = open_deals["Amount"].fillna(0.0)
    weighted = amount * open_deals["Probability"] / 100.0
    quarter = pd.Timestamp(run.as_of).to_period("Q")
    in_quarter = open_deals["CloseDate"].dt.to_period("Q") == quarter
    by_stage = (
        open_deals.assign(Amount=amount)
        .groupby("StageName", sort=False)["Amount"]
        .agg(["count", "sum"])
        .sort_values("sum", ascending=False)
    )
    return {
        "as_of": run.as_of,
        "open_deals": len(open_deals),
        "open_amount": float(amount.sum()),
        "quarter": str(quarter),
        "closing_this_quarter": int(in_quarter.sum()),
        "stage_weighted_this_quarter": float(weighted[in_quarter].sum()),
        "by_stage": [
            {"stage": s, "deals": int(r["count"]), "amount": float(r["sum"])}
            for s, r in by_stage.iterrows()
        ],
    }


def _print_pipeline(summary: dict[str, Any], run: Run) -> None:
    table = Table(title=f"Open pipeline as of {run.as_of:%Y-%m-%d}")
    table.add_column("stage")
    table.add_column("deals", justify="right")
    table.add_column("amount", justify="right")
    for row in summary["by_stage"]:
        table.add_row(row["stage"], f"{row['deals']:,}", f"{row['amount']:,.0f}")
    out.print(table)
    out.print(
        f"{summary['open_deals']:,} open deals worth {summary['open_amount']:,.0f}; "
        f"{summary['closing_this_quarter']:,} close in {summary['quarter']} "
        f"(stage-weighted {summary['stage_weighted_this_quarter']:,.0f}: Salesforce "
        "probability x amount, a baseline, not our forecast)."
    )
    out.print(
        "Next: [bold]dealcast deals --format json[/], [bold]dealcast audit verify[/], "
        "[bold]dealcast quarantine[/]."
    )
