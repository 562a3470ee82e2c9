"""`dealcast forecast`, `dealcast scenario ...` and `dealcast quota load`.

`dealcast forecast` alone forecasts (stored as a snapshot, audited); its subcommands
(history, changes, submit, override, accuracy) are the governance commands in
`cli_governance`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from dealcast import cli_governance
from dealcast.cli_common import AsOfOpt, DbOpt, Format, FormatOpt, emit_json, out, resolve
from dealcast.config import get_settings
from dealcast.crm.stages import load_stages

PeriodOpt = Annotated[str, typer.Option("--period", help="week, month or quarter.")]
PeriodsOpt = Annotated[int, typer.Option("--periods", help="The current and next N-1 periods.")]
SeedOpt = Annotated[int, typer.Option(help="Same seed, same forecast.")]
SimsOpt = Annotated[int, typer.Option("--sims", help="Monte Carlo simulations.")]
LevelsOpt = Annotated[
    str, typer.Option("--levels", help="Interval quantiles, comma-separated (0-1).")
]

forecast_app = typer.Typer(
    help="Monte Carlo forecast per period; subcommands for history and human calls.",
    invoke_without_command=True,
)
scenario_app = typer.Typer(help="What-if scenarios (never change CRM data).", no_args_is_help=True)
quota_app = typer.Typer(help="Quotas (Salesforce ForecastingQuota shape).", no_args_is_help=True)
cli_governance.register(forecast_app)


def _levels(text: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ValueError(
            f"--levels takes numbers in 0-1 separated by commas, got {text!r}"
        ) from None


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _forecast_table(result: dict[str, Any], title: str) -> None:
    table = Table(title=title)
    levels = [f"p{x * 100:g}" for x in sorted(set(result["levels"]) | {0.5})]
    cols = ["period", "won", "expected", *[x.upper() for x in levels], "new", "commit", "quota"]
    for col in cols:
        table.add_column(col, justify="left" if col == "period" else "right", no_wrap=True)
    notes = []
    for r in result["periods"]:
        new = (r.get("new_pipeline") or {}).get("expected")
        levels_ = [r[x] for x in levels]
        cells = [r["closed_won"], r["expected"], *levels_, new, r["commit"], r["quota"]]
        table.add_row(r["period"], *map(_money, cells))
        if r["unreliable_reason"]:
            notes.append(f"{r['period']}: unreliable: {r['unreliable_reason']}")
    out.print(table)
    for note in notes:
        out.print(note)
    calibration = result.get("interval_calibration") or {}
    if calibration.get("source"):
        out.print(
            f"Intervals widened x{calibration['factor']:g} by how {calibration['source']} "
            f"missed over {calibration['periods']} periods."
        )
    elif calibration.get("note"):
        out.print(f"Intervals not calibrated: {calibration['note']}")


@forecast_app.callback()
def cmd_forecast(
    ctx: typer.Context,
    period: PeriodOpt = "quarter",
    periods: PeriodsOpt = 2,
    seed: SeedOpt = 7,
    sims: SimsOpt = 10_000,
    levels: LevelsOpt = "0.1,0.5,0.9",
    new_pipeline: Annotated[
        bool, typer.Option(help="Add bookings expected from deals not created yet.")
    ] = True,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Forecast per period: bookings so far, expected, P10/P50/P90, categories, roll-ups."""
    if ctx.invoked_subcommand is not None:
        return
    from dealcast.sim.pipeline import forecast

    settings = get_settings()
    run = resolve(db, as_of, fmt)
    result = forecast(
        run.store(),
        run.as_of,
        period,
        periods,
        seed,
        n_sims=sims,
        levels=_levels(levels),
        fiscal_start_month=settings.fiscal_start_month,
        new_pipeline=new_pipeline,
        actor=settings.actor,
    )
    if run.json:
        emit_json(result)
        return
    _forecast_table(
        result,
        f"Forecast as of {run.as_of:%Y-%m-%d} (model {result['model_version']}, seed {seed},"
        f" {sims:,} simulations)",
    )


def _changes(file: Path | None, inline: list[str] | None) -> list[dict[str, Any]]:
    changes: list[dict[str, Any]] = []
    if file is not None:
        raw = json.loads(file.read_text(encoding="utf-8"))
        changes += raw["changes"] if isinstance(raw, dict) else raw
    for text in inline or []:
        try:
            changes.append(json.loads(text))
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"--change must be a JSON object, e.g. "
                f'\'{{"op": "move", "deal": "006...", "close_date": "2026-01-15"}}\': {exc}'
            ) from None
    return changes


FileOpt = Annotated[
    Path | None, typer.Option("--file", help='JSON: {"changes": [...]} or a list of changes.')
]
ChangeOpt = Annotated[
    list[str] | None, typer.Option("--change", help="One change as a JSON object (repeatable).")
]


@scenario_app.command("run")
def cmd_scenario_run(
    name: Annotated[str | None, typer.Option(help="A saved scenario to run.")] = None,
    file: FileOpt = None,
    change: ChangeOpt = None,
    save: Annotated[bool, typer.Option(help="Save the changes under --name.")] = False,
    period: PeriodOpt = "quarter",
    periods: PeriodsOpt = 2,
    seed: SeedOpt = 7,
    sims: SimsOpt = 10_000,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Forecast with what-if changes beside the baseline: deltas and the deals behind them."""
    from dealcast.sim.scenarios import load_scenario, run_scenario, save_scenario

    settings = get_settings()
    run = resolve(db, as_of, fmt)
    store = run.store()
    changes = _changes(file, change)
    if not changes:
        if name is None:
            raise ValueError("give --name of a saved scenario, or --file / --change")
        changes = load_scenario(store, name)
    elif save:
        if name is None:
            raise ValueError("--save needs --name")
        save_scenario(store, name, changes, actor=settings.actor)
    result = run_scenario(
        store,
        run.as_of,
        changes,
        period,
        periods,
        seed,
        load_stages(settings.stages_file),
        name=name or "ad hoc",
        n_sims=sims,
        fiscal_start_month=settings.fiscal_start_month,
        actor=settings.actor,
    )
    if run.json:
        emit_json(result)
        return
    table = Table(title=f"Scenario {result['name']!r} vs baseline (seed {seed})")
    for col in ("period", "baseline", "scenario", "delta", "P10 Δ", "P90 Δ"):
        table.add_column(col, justify="left" if col == "period" else "right")
    for b, s, d in zip(
        result["baseline"]["periods"], result["scenario"]["periods"], result["deltas"], strict=True
    ):
        table.add_row(
            b["period"],
            _money(b["expected"]),
            _money(s["expected"]),
            _money(d["expected"]),
            _money(d["p10"]),
            _money(d["p90"]),
        )
    out.print(table)
    drivers = Table(title="Deals driving the difference (expected, all periods)")
    for col in ("deal", "name", "change", "delta"):
        drivers.add_column(col, justify="right" if col == "delta" else "left")
    for r in result["drivers"]:
        drivers.add_row(r["deal_id"], r["name"], r["change"], _money(r["total_delta"]))
    out.print(drivers)


@scenario_app.command("save")
def cmd_scenario_save(
    name: Annotated[str, typer.Argument(help="Scenario name.")],
    file: FileOpt = None,
    change: ChangeOpt = None,
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Save (or replace) a named scenario; audited."""
    from dealcast.sim.scenarios import save_scenario

    run = resolve(db, None, fmt)
    changes = _changes(file, change)
    save_scenario(run.store(), name, changes, actor=get_settings().actor)
    if run.json:
        emit_json({"name": name, "changes": changes})
    else:
        out.print(f"saved scenario {name!r} ({len(changes)} changes)")


@scenario_app.command("list")
def cmd_scenario_list(db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Saved scenarios."""
    from dealcast.sim.scenarios import list_scenarios

    run = resolve(db, None, fmt)
    rows = list_scenarios(run.store())
    if run.json:
        emit_json(rows)
        return
    table = Table(title="Saved scenarios")
    for col in ("name", "changes", "by", "updated"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["name"],
            str(len(r["spec"]["changes"])),
            r["created_by"],
            f"{r['updated_at']:%Y-%m-%d %H:%M}",
        )
    out.print(table)


@quota_app.command("load")
def cmd_quota_load(
    file: Annotated[Path, typer.Argument(help="CSV: QuotaOwnerId,StartDate,QuotaAmount.")],
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Load quotas (all or nothing; a bad line is reported with its number)."""
    from dealcast.sim.quotas import load_quotas

    run = resolve(db, None, fmt)
    n = load_quotas(run.store(), file, actor=get_settings().actor)
    if run.json:
        emit_json({"file": file, "rows": n})
    else:
        out.print(f"loaded {n} quota rows from {file}")
