"""`dealcast index`: bring the search index of emails, call notes, meetings and next steps in
line with the store (embeds only new or changed activities; removes deleted ones).

JSON: the `IndexReport` fields (documents, added, changed, metadata_updated, removed,
unchanged, embedded, embed_seconds, seconds, index_version, collection) plus `path`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

from dealcast.cli_common import DbOpt, Format, FormatOpt, emit_json, err, resolve
from dealcast.config import get_settings


def cmd_index(
    path: Annotated[
        Path | None,
        typer.Option(
            "--path",
            help="Index folder (env DEALCAST_CHROMA_PATH; default <data dir>/chroma). "
            "Ignored when DEALCAST_CHROMA_HOST names a Chroma server.",
        ),
    ] = None,
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Update the search index used by the chat agent's deal-insight search."""
    # imported here: Chroma and ONNX Runtime add about a second to every other command
    from dealcast.rag.index import chroma_client, open_collection, update_index

    run = resolve(db, None, fmt)
    store = run.store()
    settings = get_settings()
    where = (
        f"chroma://{settings.chroma_host}:{settings.chroma_port}"
        if path is None and settings.chroma_host
        else str(path or settings.chroma_path or settings.data_dir / "chroma")
    )
    collection = open_collection(store, client=chroma_client(path))
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("embedding", total=None)
        report = update_index(
            store,
            collection,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    if run.json:
        emit_json({**report.as_dict(), "path": where})
        return
    err.print(
        f"[green]index up to date[/] ({where}): {report.documents:,} chunks; "
        f"{report.added:,} added, {report.changed:,} changed, "
        f"{report.metadata_updated:,} relabelled, {report.removed:,} removed; "
        f"{report.embedded:,} embedded in {report.embed_seconds:.1f}s "
        f"(total {report.seconds:.1f}s)",
        highlight=False,
    )
