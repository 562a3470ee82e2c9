"""What every CLI command shares: global options, the store, output and exit codes.

Conventions: `--db`, `--as-of` (default now; everything is computed as of that instant,
never the wall clock) and `--format table|json`. JSON goes to stdout, logs and progress to
stderr. Exit codes: 0 ok, 2 bad input (the message names the problem), 1 internal error.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from dealcast.config import get_settings
from dealcast.crm.pit import as_of_instant
from dealcast.crm.stages import load_stages
from dealcast.crm.store import Store
from dealcast.jsonable import to_jsonable

# piped output (files, CI logs) gets 120 columns rather than rich's 80: money needs room
out = Console(width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", "120")))
err = Console(stderr=True)


class Format(StrEnum):
    table = "table"
    json = "json"


DbOpt = Annotated[
    str | None,
    typer.Option("--db", help="Database URL or SQLite file path (env DEALCAST_DATABASE_URL)."),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Compute as of this date (YYYY-MM-DD, end of day UTC) or ISO datetime. Default: now.",
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="table or json.")]


@dataclass
class Run:
    """Resolved global options for one command."""

    db_url: str
    as_of: datetime
    fmt: Format

    @property
    def json(self) -> bool:
        return self.fmt is Format.json

    def store(self) -> Store:
        settings = get_settings()
        return Store.open(self.db_url, load_stages(settings.stages_file))


def resolve(db: str | None, as_of: str | None, fmt: Format) -> Run:
    settings = get_settings()
    url = db or settings.resolved_database_url()
    if "://" not in url:  # a bare path means an SQLite file
        url = f"sqlite:///{Path(url)}"
    instant = as_of_instant(as_of) if as_of else datetime.now(UTC).replace(tzinfo=None)
    return Run(db_url=url, as_of=instant, fmt=fmt)


def emit_json(payload: Any) -> None:
    typer.echo(json.dumps(to_jsonable(payload), indent=2))
