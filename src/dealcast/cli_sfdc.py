"""`dealcast sfdc-emulator` and `dealcast ingest salesforce` (registered in cli.py)."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from dealcast.cli_common import AsOfOpt, DbOpt, Format, FormatOpt, emit_json, err, resolve
from dealcast.config import get_settings


def cmd_sfdc_emulator(
    export: Annotated[Path, typer.Option("--export", help="Export folder to serve.")],
    port: Annotated[int, typer.Option("--port", help="Loopback port (0: any free one).")] = 8765,
    rate_limit_after: Annotated[
        int | None, typer.Option(help="Answer REQUEST_LIMIT_EXCEEDED after N API calls.")
    ] = None,
    error_rate: Annotated[float, typer.Option(help="Fraction of calls answered 5xx.")] = 0.0,
    latency: Annotated[float, typer.Option(help="Seconds added to every API call.")] = 0.0,
    session_ttl_calls: Annotated[
        int | None, typer.Option(help="Sessions expire after N API calls.")
    ] = None,
    rename_field: Annotated[
        list[str] | None, typer.Option(help="Object.Field=NewName (repeatable).")
    ] = None,
    mutate_every: Annotated[
        float, typer.Option(help="Every S seconds: a new deal, 2 stage moves, maybe a deletion.")
    ] = 0.0,
    daily_limit: Annotated[int, typer.Option(help="Daily API request limit.")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed for faults and mutations.")] = 0,
) -> None:
    """Serve an export folder as a loopback Salesforce org (SOAP/OAuth login, REST query,
    Bulk API 2.0, updated/deleted, limits) for the real simple-salesforce client."""
    from dealcast.crm.sfdc_emulator import Emulator, EmulatorOptions, Faults

    faults = Faults(
        rate_limit_after=rate_limit_after,
        error_rate=error_rate,
        latency=latency,
        session_ttl_calls=session_ttl_calls,
        renamed_fields=tuple(rename_field or ()),
        seed=seed,
    )
    emu = Emulator(export, EmulatorOptions(faults=faults, daily_api_limit=daily_limit), port=port)
    creds = emu.options.credentials
    err.print(
        f"Salesforce emulator on {emu.url} (instance {emu.options.instance}, API "
        f"v{emu.options.api_version})\n"
        f"  DEALCAST_SFDC_LOOPBACK={emu.url} DEALCAST_SFDC_USERNAME={creds.username} "
        f"DEALCAST_SFDC_PASSWORD={creds.password} "
        f"DEALCAST_SFDC_SECURITY_TOKEN={creds.security_token}",
        highlight=False,
    )
    if mutate_every > 0:

        def mutate_loop() -> None:
            while True:
                time.sleep(mutate_every)
                change = emu.mutate(new_deals=1, stage_changes=2, deletions=int(time.time()) % 2)
                logging.getLogger(__name__).info("mutated: %s", change.as_dict())

        threading.Thread(target=mutate_loop, daemon=True).start()
    try:
        emu.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()


def cmd_ingest_salesforce(
    mode: Annotated[
        str, typer.Option(help="auto (incremental where possible), full, incremental.")
    ] = "auto",
    refresh: Annotated[
        bool,
        typer.Option(
            "--refresh/--no-refresh",
            help="Rescore the deals the sync changed and recompute the forecast.",
        ),
    ] = True,
    forecast_period: Annotated[
        list[str] | None,
        typer.Option(help="Forecast(s) to recompute: week, month, quarter (repeatable)."),
    ] = None,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Sync from Salesforce (settings: DEALCAST_SFDC_*): Bulk 2.0 first, then SystemModstamp
    increments plus deletions; one transaction, audited, bad rows quarantined. Then (unless
    --no-refresh) the changed deals are rescored and the forecast recomputed. Exit 3 when
    another sync (e.g. the server's scheduled one) is running."""
    from dealcast.crm.salesforce_sync import sync_salesforce

    run, settings = resolve(db, as_of, fmt), get_settings()
    kinds = tuple(forecast_period or ("quarter",))
    if refresh:  # a bad period is an input error before the sync, not after it
        from dealcast.sim.periods import PERIOD_KINDS

        bad = [k for k in kinds if k not in PERIOD_KINDS]
        if bad:
            raise ValueError(f"forecast period must be one of {', '.join(PERIOD_KINDS)}: {bad}")
    store = run.store()
    from dealcast.crm.sync_lock import SyncLocked, held

    try:  # one sync at a time, also against a server's scheduled sync
        with held(store, "cli"):
            report = sync_salesforce(store, mode=mode, actor=settings.actor, as_of=run.as_of)
    except SyncLocked as exc:
        err.print(f"[yellow]{exc}[/]", highlight=False)
        raise typer.Exit(3) from None
    refreshed = None
    if refresh:
        from dealcast.refresh import refresh_after_sync

        refreshed = refresh_after_sync(
            store,
            report,
            as_of=run.as_of,
            actor=settings.actor,
            forecast_kinds=kinds,
            fiscal_start_month=settings.fiscal_start_month,
        )
    from dealcast.refresh import update_search_index

    index = update_search_index(store)
    if run.json:
        emit_json({**report.as_dict(), "refresh": refreshed, "search_index": index})
        return
    for obj in report.objects:
        err.print(
            f"{obj.object:<24} {obj.mode:<12} {obj.records:>8} read"
            + (f"  missing: {', '.join(obj.missing)}" if obj.missing else ""),
            highlight=False,
        )
    usage = f"{report.api_usage[0]}/{report.api_usage[1]}" if report.api_usage else "unknown"
    err.print(
        f"{report.imported.rows} rows, {report.imported.quarantined} quarantined, "
        f"{report.deleted} deletions, {report.api_calls} API calls (org usage {usage}), "
        f"{report.retries} retries, quality {report.imported.quality.score:.0f}"
        + ("  [yellow]FLAGGED[/]" if report.flagged else ""),
        highlight=False,
    )
    if refreshed is not None:
        _print_refresh(refreshed)


def _print_refresh(refreshed: dict[str, Any]) -> None:
    if refreshed.get("skipped"):
        err.print(f"refresh: nothing to do ({refreshed['skipped']})", highlight=False)
        return
    err.print(
        f"refresh: {refreshed['rescored']} deals rescored (model {refreshed['model_version']})",
        highlight=False,
    )
    for fc in refreshed["forecasts"]:
        current = fc["periods"][0] if fc["periods"] else {}
        err.print(
            f"  {fc['period_kind']} forecast {fc['run_id']}: {current.get('period')} expected "
            f"{current.get('expected') or 0:,.0f} over {fc['open_deals']} open deals",
            highlight=False,
        )
