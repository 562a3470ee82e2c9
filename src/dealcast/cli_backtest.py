"""`dealcast backtest`: rebuild the pipeline as of past dates, forecast, compare with actuals.

`dealcast backtest --from D1 --to D2 --period month|quarter [--scorer model|rules|stage]
[--seed S] [--sims N]`: one snapshot per period starting in [D1, D2], taken the instant
before the period began (see `dealcast.sim.backtest`). JSON: {"run_id", "period_kind",
"from", "to", "scorer", "seed", "n_sims", "summary": {"methods": {name: {"wape", "mape",
"mape_skipped", "bias", "coverage", ...}}, "per_rep", ...}, "rows": [...]}. Each run is stored
and audited; `dealcast backtest --list` shows the stored runs (the accuracy tracker).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from dealcast.cli_common import DbOpt, Format, FormatOpt, emit_json, err, out, resolve
from dealcast.config import get_settings

REP_LIMIT = 15  # reps in the table view; JSON has every rep


def cmd_backtest(
    start: Annotated[
        str | None, typer.Option("--from", help="First snapshot date range start (YYYY-MM-DD).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last period start to include (YYYY-MM-DD).")
    ] = None,
    period: Annotated[str, typer.Option(help="month or quarter.")] = "month",
    scorer: Annotated[
        str, typer.Option(help="model (walk-forward, retrained per quarter), rules or stage.")
    ] = "model",
    seed: Annotated[int, typer.Option(help="Same seed, same backtest.")] = 7,
    sims: Annotated[int, typer.Option(help="Monte Carlo simulations per snapshot.")] = 5_000,
    list_runs: Annotated[
        bool, typer.Option("--list", help="List stored backtest runs instead.")
    ] = False,
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Backtest the forecast: at each period start, rebuild the pipeline point-in-time,
    forecast the period, compare with actual bookings and with naive baselines."""
    from dealcast.sim import backtest as bt

    run = resolve(db, None, fmt)
    store = run.store()
    if list_runs:
        runs = bt.list_runs(store)
        if run.json:
            emit_json({"runs": [{k: v for k, v in r.items() if k != "summary"} for r in runs]})
        else:
            _runs_table(runs)
        return
    if start is None:
        raise ValueError("--from is required (or use --list)")
    progress = None if run.json else (lambda msg: err.print(f"[dim]{msg}[/]", highlight=False))
    result = bt.backtest(
        store,
        start,
        end or start,
        period,
        scorer=scorer,
        seed=seed,
        n_sims=sims,
        actor=get_settings().actor,
        progress=progress,
    )
    if run.json:
        emit_json(result.as_dict())
        return
    _result_tables(result.as_dict())


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _result_tables(result: dict[str, Any]) -> None:
    summary = result["summary"]
    rows = result["rows"]
    periods = Table(
        title=f"Backtest {result['period_kind']} {result['from']} .. {result['to']} "
        f"(scorer {result['scorer']}, seed {result['seed']}, {result['n_sims']:,} simulations,"
        f" run {result['run_id']})"
    )
    names = list(rows[0]["forecast"]) if rows else []
    for col in ["period", "actual", *names, "P10-P90", "inside"]:
        periods.add_column(col, justify="left" if col in ("period", "P10-P90") else "right")
    for r in rows:
        interval = r["interval"]
        periods.add_row(
            r["period"],
            _money(r["actual"]),
            *[_money(r["forecast"][n]) for n in names],
            f"{_money(interval['low'])} - {_money(interval['high'])}",
            "-" if r["inside"] is None else ("yes" if r["inside"] else "[red]no[/]"),
        )
    out.print(periods)
    metrics = Table(title="Accuracy (point forecast: ours = expected)")
    for col in ("method", "periods", "WAPE", "MAPE", "bias", "coverage"):
        metrics.add_column(col, justify="left" if col == "method" else "right")
    for name, m in summary["methods"].items():
        mape = _pct(m.get("mape"))
        if m.get("mape_skipped"):
            mape += f" ({m['mape_skipped']} skipped: actual 0)"
        metrics.add_row(
            name, str(m.get("n", 0)), _pct(m.get("wape")), mape, _pct(m.get("bias")),
            _pct(m.get("coverage")),
        )  # fmt: skip
    out.print(metrics)
    reps = Table(title="Per rep: forecast ÷ actual (largest actual first)")
    for col in ("owner", "periods", "forecast", "actual", "ratio", "WAPE"):
        reps.add_column(col, justify="left" if col == "owner" else "right")
    for r in summary["per_rep"][:REP_LIMIT]:
        reps.add_row(
            str(r["owner_id"]),
            str(r["periods"]),
            _money(r["forecast"]),
            _money(r["actual"]),
            "-" if r["ratio"] is None else f"{r['ratio']:.2f}",
            _pct(r["wape"]),
        )
    out.print(reps)
    for note in summary.get("fallback_notes", []):
        out.print(f"[yellow]note:[/] {note}")
    if summary.get("skipped_incomplete"):
        out.print(f"[dim]not over yet, skipped: {', '.join(summary['skipped_incomplete'])}[/]")


def _runs_table(runs: list[dict[str, Any]]) -> None:
    table = Table(title="Stored backtest runs (newest first)")
    for col in ("id", "created", "kind", "from", "to", "scorer", "periods", "WAPE ours",
                "best baseline", "coverage", "bias"):  # fmt: skip
        table.add_column(col, justify="right" if col in ("id", "periods") else "left")
    for r in runs:
        wape = r["wape"]
        baselines = {k: v for k, v in wape.items() if not k.startswith("ours") and v is not None}
        best = min(baselines, key=lambda k: baselines[k]) if baselines else None
        table.add_row(
            str(r["id"]),
            f"{r['created_at']:%Y-%m-%d %H:%M}",
            r["period_kind"],
            str(r["from"]),
            str(r["to"]),
            r["scorer"],
            str(r["periods"]),
            _pct(wape.get("ours")),
            "-" if best is None else f"{best} {_pct(baselines[best])}",
            _pct(r["coverage"]),
            _pct(r["bias"]),
        )
    out.print(table)
