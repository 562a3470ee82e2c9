"""`dealcast forecast history|changes|submit|override|accuracy`: forecast governance.

JSON shapes: `history` as `forecast_history.history`; `changes` as `Waterfall.as_dict`;
`submit`/`override` the stored call (`Call.as_dict`); `accuracy` as `rep_accuracy.accuracy`.
`submit` and `override` stamp the call with the as-of time (default now).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from dealcast.cli_common import AsOfOpt, DbOpt, Format, FormatOpt, emit_json, out, resolve
from dealcast.config import get_settings
from dealcast.crm.pit import as_of_instant
from dealcast.sim import changes, forecast_history, rep_accuracy, submissions

PeriodOpt = Annotated[
    str, typer.Option("--period", help="Period label: 2025-Q4, 2025-11 or 2025-W46.")
]
FiscalOpt = Annotated[
    int | None,
    typer.Option(
        "--fiscal-start-month",
        help="First month of the fiscal year (1-12); default DEALCAST_FISCAL_START_MONTH.",
    ),
]
CategoryOpt = Annotated[str, typer.Option("--category", help="Commit or Best Case.")]
OwnerOpt = Annotated[str, typer.Option("--owner", help="User Id whose number this is.")]
AmountOpt = Annotated[float, typer.Option("--amount", help="The number (>= 0).")]
NoteOpt = Annotated[str, typer.Option("--note", help="Why (required).")]
DEAL_LINES = 10  # deals shown per bucket in the table view; JSON has all


def _money(value: Any) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _pct(value: Any) -> str:
    return "-" if value is None else f"{value:.0%}"


def _category(text: str) -> str:
    """Forgiving spelling for the shell: commit, best_case, "best case", BestCase."""
    key = text.replace("_", "").replace(" ", "").lower()
    for name in submissions.CATEGORIES:
        if name.replace(" ", "").lower() == key:
            return name
    return text  # the library names the valid options


def cmd_history(
    period: PeriodOpt,
    fiscal_start_month: FiscalOpt = None,
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """How the AI forecast (expected, P10, P90) and the human calls for a period moved."""
    run = resolve(db, None, fmt)
    result = forecast_history.history(
        run.store(), period, fiscal_start_month=_fiscal(fiscal_start_month)
    )
    if run.json:
        emit_json(result)
        return
    table = Table(
        title=f"Forecast history {result['period']} ({result['start']} - {result['end']})"
    )
    for col in ("when", "what", "owner", "number", "P10", "P90", "change", "AI", "note"):
        table.add_column(col)
    for e in result["timeline"]:
        if e["kind"] == "forecast":
            row = [
                "AI forecast",
                "",
                _money(e["expected"]),
                _money(e["p10"]),
                _money(e["p90"]),
                _money(e["expected_change"]),
                "",
                "",
            ]
        else:
            who = e["submitted_by_name"] or e["submitted_by"] if e["kind"] == "override" else ""
            what = f"{e['category']} {e['kind']}" + (f" by {escape(who)}" if who else "")
            row = [
                what,
                escape(e["owner_name"] or e["owner_id"]),
                _money(e["amount"]),
                "",
                "",
                _money(e["change"]),
                _money(e["ai_expected"]),
                escape(e["note"]),
            ]
        table.add_row(f"{e['at']:%Y-%m-%d %H:%M}", *row)
    if not result["timeline"]:
        table.add_row("-", "nothing stored for this period", *[""] * 7)
    out.print(table)


def cmd_changes(
    period: PeriodOpt,
    since: Annotated[
        str | None, typer.Option("--since", help="From (default: 7 days before --until).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", help="To (default: --as-of).")] = None,
    fiscal_start_month: FiscalOpt = None,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """What changed in a period's pipeline and forecast between two dates (a waterfall)."""
    run = resolve(db, as_of, fmt)
    end = as_of_instant(until) if until else run.as_of
    start = as_of_instant(since) if since else end - timedelta(days=7)
    wf = changes.what_changed(
        run.store(), period, start, end, fiscal_start_month=_fiscal(fiscal_start_month)
    )
    result = wf.as_dict()
    if run.json:
        emit_json(result)
        return
    table = Table(
        title=f"What changed in {result['period']}: {start:%Y-%m-%d %H:%M} -> {end:%Y-%m-%d %H:%M}"
    )
    for col in ("", "deals", "pipeline", "forecast"):
        table.add_column(col, justify="left" if not col else "right")
    s, e = result["start"], result["end"]
    table.add_row("start", str(s["deals"]), _money(s["pipeline"]), _money(s["forecast"]))
    for b in result["buckets"]:
        if b["count"]:
            table.add_row(
                b["label"],
                str(b["count"]),
                _money(b["pipeline_change"]),
                _money(b["forecast_change"]),
            )
    table.add_row("[bold]end[/]", str(e["deals"]), _money(e["pipeline"]), _money(e["forecast"]))
    out.print(table)
    for b in result["buckets"]:
        for d in b["deals"][:DEAL_LINES]:
            before, after = d["before"] or {}, d["after"] or {}
            out.print(
                f"  [dim]{b['bucket']}[/] {d['id']} {escape(str(d['name']))} "
                f"({escape(str(d['owner']))}): {_money(before.get('amount'))} "
                f"{before.get('close_date') or ''} {before.get('category') or ''} -> "
                f"{_money(after.get('amount'))} {after.get('close_date') or ''} "
                f"{after.get('category') or ''}; forecast {_money(d['forecast_change'])}"
            )
        if b["count"] > DEAL_LINES:
            out.print(f"  [dim]{b['count'] - DEAL_LINES} more {b['bucket']}: --format json[/]")


def _print_call(call: submissions.Call) -> None:
    previous = _money(call.previous_amount) if call.previous_amount is not None else "none"
    out.print(
        f"{call.kind} #{call.id}: {call.period} {call.category} for {call.owner_id} by "
        f"{call.submitted_by}: {previous} -> {_money(call.amount)} ({escape(call.note)})"
    )


def cmd_submit(
    period: PeriodOpt,
    category: CategoryOpt,
    owner: OwnerOpt,
    amount: AmountOpt,
    note: NoteOpt,
    by: Annotated[
        str | None, typer.Option("--by", help="Submitting user Id (default: the owner).")
    ] = None,
    fiscal_start_month: FiscalOpt = None,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Submit your forecast number for a period and category (a note is required)."""
    run = resolve(db, as_of, fmt)
    call = submissions.submit(
        run.store(),
        period,
        _category(category),
        owner,
        amount,
        note,
        by or owner,
        at=run.as_of,
        fiscal_start_month=_fiscal(fiscal_start_month),
    )
    if run.json:
        emit_json(call.as_dict())
    else:
        _print_call(call)


def cmd_override(
    period: PeriodOpt,
    category: CategoryOpt,
    owner: OwnerOpt,
    amount: AmountOpt,
    note: NoteOpt,
    by: Annotated[str, typer.Option("--by", help="Your user Id (a manager above the owner).")],
    fiscal_start_month: FiscalOpt = None,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Override a report's number as their manager (a note is required)."""
    run = resolve(db, as_of, fmt)
    call = submissions.override(
        run.store(),
        period,
        _category(category),
        owner,
        amount,
        note,
        by,
        at=run.as_of,
        fiscal_start_month=_fiscal(fiscal_start_month),
    )
    if run.json:
        emit_json(call.as_dict())
    else:
        _print_call(call)


def cmd_accuracy(
    period_kind: Annotated[
        str | None, typer.Option("--period-kind", help="Only week, month or quarter periods.")
    ] = None,
    fiscal_start_month: FiscalOpt = None,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Each rep's and manager's forecast accuracy, bias and sandbagging, beside the AI's."""
    run = resolve(db, as_of, fmt)
    result = rep_accuracy.accuracy(
        run.store(),
        run.as_of,
        period_kind=period_kind,
        fiscal_start_month=_fiscal(fiscal_start_month),
    )
    if run.json:
        emit_json(result)
        return
    table = Table(title=f"Forecast accuracy (Commit calls) as of {run.as_of:%Y-%m-%d}")
    for col in (
        "owner",
        "role",
        "periods",
        "called",
        "actual",
        "accuracy",
        "bias",
        "pattern",
        "AI accuracy",
    ):
        table.add_column(col)
    for r in result["managers"] + result["reps"]:
        style = {"sandbagging": "yellow", "over-calling": "red"}.get(r["pattern"], "")
        table.add_row(
            escape(str(r["name"] or r["owner_id"])),
            r["role"],
            str(r["periods"]),
            _money(r["forecast"]),
            _money(r["actual"]),
            _pct(r["accuracy"]),
            _pct(r["bias"]),
            f"[{style}]{r['pattern']}[/]" if style else r["pattern"],
            _pct(r["ai"]["accuracy"]),
        )
    out.print(table)
    ai, human = result["ai"], result["human"]
    out.print(
        f"Same rep-periods ({ai['periods']}): humans {_pct(human['accuracy'])} "
        f"(WAPE {_pct(human['wape'])}), AI {_pct(ai['accuracy'])} (WAPE {_pct(ai['wape'])}). "
        f"{result['rule']['sandbagging']}."
    )


def register(forecast_app: typer.Typer) -> None:
    """Add the governance subcommands to the `dealcast forecast` group."""
    forecast_app.command("history")(cmd_history)
    forecast_app.command("changes")(cmd_changes)
    forecast_app.command("submit")(cmd_submit)
    forecast_app.command("override")(cmd_override)
    forecast_app.command("accuracy")(cmd_accuracy)


def _fiscal(month: int | None) -> int:
    """The option when given, else the configured fiscal year start (as `dealcast forecast`)."""
    return get_settings().fiscal_start_month if month is None else month
