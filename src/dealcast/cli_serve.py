"""`dealcast serve`: the HTTP API (FastAPI under uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from dealcast.cli_common import DbOpt
from dealcast.config import get_settings


def cmd_serve(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.", min=1, max=65535)] = 8000,
    db: DbOpt = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="critical, error, warning, info or debug.")
    ] = "info",
) -> None:
    """Serve the HTTP API (API keys: DEALCAST_API_KEYS or DEALCAST_API_KEYS_FILE)."""
    import uvicorn

    from dealcast.server import create_app

    levels = ("critical", "error", "warning", "info", "debug")
    if log_level not in levels:
        raise ValueError(f"--log-level must be one of {', '.join(levels)}; got {log_level!r}")
    app = create_app(get_settings(), database_url=db)
    uvicorn.run(app, host=host, port=port, log_level=log_level)


if __name__ == "__main__":  # `python -m dealcast.cli_serve` until `serve` is registered
    typer.run(cmd_serve)
