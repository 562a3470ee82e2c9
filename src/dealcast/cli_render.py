"""Rich rendering for the CLI: tables, the import progress bar, and per-deal JSON rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pandas as pd
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn
from rich.table import Table

from dealcast.cli_common import err, out, to_jsonable
from dealcast.crm.audit import AuditEntry
from dealcast.crm.export_import import ImportReport


@contextmanager
def import_progress() -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar per export file (bytes read), drawn on stderr."""
    tasks: dict[str, TaskID] = {}
    with Progress(
        TextColumn("{task.description:<24}"),
        BarColumn(),
        DownloadColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    ) as progress:

        def hook(obj: str, nbytes: int, total: int) -> None:
            if obj not in tasks:
                tasks[obj] = progress.add_task(obj, total=total)
            progress.advance(tasks[obj], nbytes)

        yield hook


def import_report(report: ImportReport) -> None:
    table = Table(title=f"Import #{report.import_id} from {report.source}")
    for col in ("object", "rows", "inserted", "updated", "unchanged", "quarantined", "warnings"):
        table.add_column(col, justify="left" if col == "object" else "right")
    for o in report.objects:
        if not o.present:
            table.add_row(o.object, "[dim]file absent[/]", "", "", "", "", "")
            continue
        bad = f"[red]{o.quarantined}[/]" if o.quarantined else "0"
        table.add_row(
            o.object,
            f"{o.rows:,}",
            f"{o.inserted:,}",
            f"{o.updated:,}",
            f"{o.unchanged:,}",
            bad,
            f"{o.warnings:,}",
        )
    out.print(table)
    for p in report.problems[:10]:
        field = f", field {p.field}" if p.field else ""
        out.print(
            f"  [red]quarantined[/] {p.file} line {p.line}{field}: {p.reason}", highlight=False
        )
    for p in report.warnings[:5]:
        out.print(
            f"  [yellow]warning[/] {p.file} line {p.line}, field {p.field}: {p.reason}",
            highlight=False,
        )
    q = report.quality
    colour = "red" if q.flagged else "green"
    out.print(
        f"Data quality [{colour}]{q.score:.1f}/100[/] (completeness {q.completeness:.0f}, "
        f"validity {q.validity:.0f}, referential integrity {q.referential_integrity:.0f}, "
        f"freshness {q.freshness:.0f})"
        + (" - [red]FLAGGED for review (below 90)[/]" if q.flagged else "")
    )
    out.print(
        f"{report.rows:,} rows in {report.seconds:.1f}s ({report.rows_per_second:,.0f} rows/s)"
    )


DEAL_COLUMNS = {
    "Id": "opportunity_id",
    "Name": "name",
    "AccountId": "account_id",
    "AccountName": "account_name",
    "OwnerId": "owner_id",
    "OwnerName": "owner_name",
    "StageName": "stage",
    "Amount": "amount",
    "CloseDate": "close_date",
    "Probability": "probability",
    "ForecastCategoryName": "forecast_category",
    "IsClosed": "is_closed",
    "IsWon": "is_won",
    "CreatedDate": "created_date",
    "StageEnteredAt": "stage_entered_at",
    "LastActivityDate": "last_activity_date",
    "NextStep": "next_step",
    "PitSource": "pit_source",
}


def deal_rows(opps: pd.DataFrame, users: pd.DataFrame, accounts: pd.DataFrame) -> list[Any]:
    frame = opps.assign(
        OwnerName=opps["OwnerId"].map(users.set_index("Id")["Name"]),
        AccountName=opps["AccountId"].map(accounts.set_index("Id")["Name"]),
    )
    frame = frame.sort_values(["CloseDate", "Id"])[list(DEAL_COLUMNS)].rename(columns=DEAL_COLUMNS)
    for col in ("close_date", "last_activity_date"):
        frame[col] = frame[col].dt.date
    return [to_jsonable(r) for r in frame.to_dict("records")]


def deals_table(rows: list[dict[str, Any]], as_of: datetime, limit: int = 50) -> None:
    table = Table(title=f"{len(rows):,} deals as of {as_of:%Y-%m-%d %H:%M} UTC")
    for col in (
        "opportunity_id",
        "name",
        "owner_name",
        "stage",
        "amount",
        "close_date",
        "forecast_category",
    ):
        table.add_column(col, justify="right" if col == "amount" else "left")
    for r in rows[:limit]:
        amount = "" if r["amount"] is None else f"{r['amount']:,.0f}"
        table.add_row(
            r["opportunity_id"],
            r["name"],
            r["owner_name"] or "",
            r["stage"],
            amount,
            r["close_date"],
            r["forecast_category"],
        )
    out.print(table)
    if len(rows) > limit:
        out.print(f"... {len(rows) - limit:,} more (use --format json for all)")


def quarantine_table(rows: list[dict[str, Any]]) -> None:
    table = Table(title=f"{len(rows):,} quarantined rows")
    for col in ("import", "file", "line", "field", "value", "reason"):
        table.add_column(col)
    for r in rows[:200]:
        table.add_row(
            str(r["import_id"]),
            r["file"],
            str(r["line"]),
            r["field"] or "",
            (r["value"] or "")[:40],
            r["reason"],
        )
    out.print(table)


def audit_table(entries: list[AuditEntry]) -> None:
    table = Table(title="Audit log (newest first)")
    for col in ("seq", "recorded_at", "actor", "action", "subject", "model", "hash"):
        table.add_column(col)
    for e in entries:
        table.add_row(
            str(e.seq),
            f"{e.recorded_at:%Y-%m-%d %H:%M:%S}",
            e.actor,
            e.action,
            e.subject[:50],
            e.model_version or "",
            e.entry_hash[:12],
        )
    out.print(table)


def demo_summary(summary: Any) -> None:
    counts = ", ".join(f"{k} {v:,}" for k, v in summary.counts.items())
    out.print(f"Demo org written to {summary.out_dir}: {counts}")
    out.print(
        f"{summary.won:,} won, {summary.lost:,} lost, {summary.open:,} open "
        f"(win rate {summary.win_rate:.1%}) in {summary.elapsed_seconds:.1f}s"
    )
