"""`dealcast` command line (Typer + rich). See `cli_common` for the shared conventions."""

from __future__ import annotations

import sys
import traceback
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from dealcast import (
    cli_backtest,
    cli_forecast,
    cli_ml,
    cli_rag,
    cli_render,
    cli_risk,
    cli_serve,
    cli_sfdc,
)
from dealcast.cli_common import AsOfOpt, DbOpt, Format, FormatOpt, emit_json, err, resolve
from dealcast.config import get_settings
from dealcast.crm.export_import import import_export

app = typer.Typer(
    help="dealcast: calibrated deal scores, risks and forecasts from your CRM.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
ingest_app = typer.Typer(help="Bring CRM data into the store.", no_args_is_help=True)
audit_app = typer.Typer(help="The append-only audit log.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")
app.add_typer(audit_app, name="audit")
app.add_typer(cli_ml.model_app, name="model")
app.command("train")(cli_ml.cmd_train)
app.command("score")(cli_ml.cmd_score)
app.command("risks")(cli_risk.cmd_risks)
app.add_typer(cli_forecast.forecast_app, name="forecast")
app.add_typer(cli_forecast.scenario_app, name="scenario")
app.add_typer(cli_forecast.quota_app, name="quota")
app.command("sfdc-emulator")(cli_sfdc.cmd_sfdc_emulator)
app.command("serve")(cli_serve.cmd_serve)
app.command("index")(cli_rag.cmd_index)
ingest_app.command("salesforce")(cli_sfdc.cmd_ingest_salesforce)
if hasattr(cli_backtest, "cmd_backtest"):  # being written: registered once it exists
    app.command("backtest")(cli_backtest.cmd_backtest)


@ingest_app.command("export")
def ingest_export(
    folder: Annotated[Path, typer.Argument(help="A Salesforce Data Export folder of CSVs.")],
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Import a Salesforce Data Export folder (one transaction; bad rows quarantined)."""
    run = resolve(db, as_of, fmt)
    store = run.store()
    with cli_render.import_progress() as hook:
        report = import_export(
            store, folder, actor=get_settings().actor, as_of=run.as_of, progress=hook
        )
    from dealcast.refresh import update_search_index

    index = update_search_index(store) if report.rows_written else None
    if run.json:
        emit_json({**report.as_dict(), "search_index": index})
    else:
        cli_render.import_report(report)
        if index is not None:
            err.print(f"search index updated: {index}", highlight=False)


@app.command("deals")
def deals(
    deal: Annotated[str | None, typer.Option("--deal", help="Only this opportunity Id.")] = None,
    include_closed: Annotated[bool, typer.Option(help="Also list closed deals.")] = False,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Deals as they stood at the as-of time (point-in-time view), open ones by default."""
    run = resolve(db, as_of, fmt)
    snap = run.store().as_of(run.as_of, opportunity_ids=[deal] if deal else None)
    frame = snap.opportunities() if include_closed else snap.open_opportunities()
    if deal and frame.empty:
        raise ValueError(f"no {'' if include_closed else 'open '}deal {deal} as of {run.as_of}")
    rows = cli_render.deal_rows(frame, snap.users(), snap.accounts())
    if run.json:
        emit_json({"as_of": run.as_of, "deals": rows})
    else:
        cli_render.deals_table(rows, run.as_of)


@app.command("quarantine")
def quarantine_list(
    import_id: Annotated[int | None, typer.Option(help="Only rows from this import.")] = None,
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Rows that imports rejected, with file, line, field and reason."""
    run = resolve(db, None, fmt)
    rows = run.store().quarantined(import_id)
    if run.json:
        emit_json({"rows": rows})
    else:
        cli_render.quarantine_table(rows)


@audit_app.command("verify")
def audit_verify(db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Recompute the hash chain; exit 1 if any entry was altered, removed or reordered."""
    run = resolve(db, None, fmt)
    result = run.store().verify_audit()
    if run.json:
        emit_json(
            {
                "ok": result.ok,
                "entries": result.entries,
                "problem": result.problem,
                "bad_seq": result.bad_seq,
            }
        )
    elif result.ok:
        err.print(f"[green]audit log intact[/]: {result.entries} entries verified")
    else:
        err.print(f"[red]audit log TAMPERED[/]: {result.problem}")
    if not result.ok:
        raise typer.Exit(1)


@audit_app.command("list")
def audit_list(
    action: Annotated[str | None, typer.Option(help="Only this action.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Recent audit entries, newest first."""
    run = resolve(db, None, fmt)
    entries = run.store().audit_entries(action=action, limit=limit)
    if run.json:
        emit_json({"entries": [e.__dict__ for e in entries]})
    else:
        cli_render.audit_table(entries)


@app.command("demo-data")
def demo_data(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the export into.")],
    seed: Annotated[int, typer.Option(help="Random seed: same seed, same org.")] = 7,
    scale: Annotated[float, typer.Option(help="1.0 = about 5,000 deals.")] = 1.0,
    today: Annotated[
        str | None, typer.Option(help="Last day of the org's history (default: today, UTC).")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Write a realistic demo org as a Salesforce Data Export (plus latent labels)."""
    from dealcast.crm.demo import generate_demo_org

    if scale <= 0:
        raise ValueError("--scale must be positive")
    end = date.fromisoformat(today) if today else resolve(None, None, fmt).as_of.date()
    summary = generate_demo_org(out, seed=seed, scale=scale, today=end)
    if fmt is Format.json:
        emit_json(summary.as_dict())
    else:
        cli_render.demo_summary(summary)


@app.command("demo")
def demo(
    seed: Annotated[int, typer.Option(help="Random seed for the demo org.")] = 7,
    scale: Annotated[float, typer.Option(help="1.0 = about 5,000 deals.")] = 1.0,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Generate the demo org (if absent), ingest it, and summarise the pipeline."""
    from dealcast.demo_run import run_demo

    run_demo(resolve(db, as_of, fmt), seed=seed, scale=scale)


def main() -> None:
    """Entry point: maps errors to exit codes (2 bad input, 1 internal error). Usage errors
    (unknown command or option) already exit 2 inside Typer."""
    try:
        app()
    except (ValueError, FileNotFoundError) as exc:
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except Exception as exc:  # every other failure is ours: say so, keep the trace
        traceback.print_exc(file=sys.stderr)
        err.print(f"[red]internal error:[/] {type(exc).__name__}: {exc}", highlight=False)
        sys.exit(1)
