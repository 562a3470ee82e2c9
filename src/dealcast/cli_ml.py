"""`dealcast train`, `dealcast score`, `dealcast model ...`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from dealcast.cli_common import AsOfOpt, DbOpt, Format, FormatOpt, emit_json, err, out, resolve
from dealcast.cli_risk import risk_rows
from dealcast.config import get_settings
from dealcast.crm.store import Store
from dealcast.ml.compare import compare
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.registry import Registry
from dealcast.ml.scoring import DEFAULT_BUDGET_S, score
from dealcast.ml.training import NotEnoughHistory, TrainingResult, recalibrate, train

model_app = typer.Typer(help="The deal-scorer registry.", no_args_is_help=True)


def train_model(store: Store, as_of: Any, actor: str) -> tuple[TrainingResult | None, str]:
    """Train and register; returns (result, message). Too little history is not an error:
    scoring falls back to the rule-based scorer, and the audit log says why."""
    try:
        result = train(FeatureInputs.load(store, as_of))
    except NotEnoughHistory as exc:
        store.record_audit(
            actor=actor,
            action="train_skipped",
            subject="deal_scorer",
            as_of=as_of,
            outputs={"reason": str(exc)},
        )
        return None, f"{exc}. Scores come from the rule-based scorer until then."
    record = Registry(store.engine, actor).register(
        result.model, trained_as_of=as_of, data_hash=result.data_hash, info=result.summary()
    )
    return result, f"registered deal_scorer {record.version} ({record.status})"


def cmd_train(db: DbOpt = None, as_of: AsOfOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Train the deal scorer on deals closed before the as-of time (time split)."""
    run = resolve(db, as_of, fmt)
    result, message = train_model(run.store(), run.as_of, get_settings().actor)
    if run.json:
        emit_json(
            {"as_of": run.as_of, "message": message, "result": result.summary() if result else None}
        )
        return
    err.print(message)
    if result:
        _metrics_table(result.summary())


def _metrics_table(summary: dict[str, Any]) -> None:
    table = Table(
        title=f"Validation fold ({summary['folds']['validation']:,} snapshots of deals "
        f"closed from {summary['window']['validation_closed_from'][:10]})"
    )
    for col in ("scorer", "AUC", "Brier", "log-loss", "ECE"):
        table.add_column(col, justify="left" if col == "scorer" else "right")
    for label, key in (
        ("dealcast model", "model"),
        ("Salesforce stage probability", "stage_probability_baseline"),
        ("rule-based scorer", "rules_baseline"),
    ):
        m = summary[key]
        table.add_row(
            label, f"{m['auc']:.3f}", f"{m['brier']:.4f}", f"{m['log_loss']:.4f}", f"{m['ece']:.4f}"
        )
    out.print(table)
    out.print(f"calibration: {summary['calibration']}")
    rel = Table(title="Reliability (validation)")
    for col in ("predicted", "count", "mean predicted", "observed"):
        rel.add_column(col, justify="right")
    for r in summary["reliability"]:
        if r["count"]:
            rel.add_row(
                f"{r['bin_low']:.1f}-{r['bin_high']:.1f}",
                f"{r['count']:,}",
                f"{r['mean_predicted']:.3f}",
                f"{r['observed_rate']:.3f}",
            )
    out.print(rel)


def cmd_score(
    deal: Annotated[str | None, typer.Option("--deal", help="Only this opportunity Id.")] = None,
    budget: Annotated[
        float, typer.Option(help="Seconds before serving cached scores.")
    ] = DEFAULT_BUDGET_S,
    with_risks: Annotated[
        bool, typer.Option("--risks/--no-risks", help="Detect risks; actions then answer them.")
    ] = True,
    db: DbOpt = None,
    as_of: AsOfOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Score every open deal (or one) as of the as-of time, with risks and next actions."""
    run = resolve(db, as_of, fmt)
    store = run.store()
    risks = (
        {row["opportunity_id"]: row["risks"] for row in risk_rows(store, run.as_of, deal)}
        if with_risks
        else None
    )
    batch = score(
        store,
        run.as_of,
        [deal] if deal else None,
        actor=get_settings().actor,
        budget_s=budget,
        risks=risks,
    )
    if deal and not batch.deals:
        raise ValueError(f"no open deal {deal} as of {run.as_of}")
    if run.json:
        emit_json(batch.as_dict())
        return
    if batch.fallback:
        err.print(f"[yellow]fallback:[/] {batch.fallback}")
    table = Table(
        title=f"{len(batch.deals):,} open deals as of {run.as_of:%Y-%m-%d} "
        f"(model {batch.model_version})"
    )
    for col in ("deal", "win %", "conf", "top factors"):
        table.add_column(col)
    ranked = sorted(batch.deals, key=lambda d: -d.win_probability)
    for d in ranked[:30]:
        flag = " [yellow]review[/]" if d.needs_review else ""
        reasons = "; ".join(f["text"] for f in d.top_factors[:3])
        table.add_row(
            d.opportunity_id, f"{d.win_probability:.0f}", f"{d.confidence:.0f}{flag}", reasons
        )
    out.print(table)


@model_app.command("list")
def model_list(db: DbOpt = None, fmt: FormatOpt = Format.table) -> None:
    """Registered versions, newest first."""
    run = resolve(db, None, fmt)
    records = Registry(run.store().engine).list()
    rows = [
        {
            "version": r.version,
            "status": r.status,
            "created_at": r.created_at,
            "trained_as_of": r.trained_as_of,
            "auc": r.info.get("model", {}).get("auc"),
            "brier": r.info.get("model", {}).get("brier"),
            "ece": r.info.get("model", {}).get("ece"),
        }
        for r in records
    ]
    if run.json:
        emit_json({"models": rows})
        return
    table = Table(title="deal_scorer versions")
    for col in ("version", "status", "trained_as_of", "AUC", "Brier", "ECE"):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["version"],
            r["status"],
            f"{r['trained_as_of']:%Y-%m-%d}",
            f"{r['auc']:.3f}",
            f"{r['brier']:.4f}",
            f"{r['ece']:.4f}",
        )
    out.print(table)


@model_app.command("promote")
def model_promote(version: str, db: DbOpt = None) -> None:
    """Make VERSION the champion."""
    record = Registry(resolve(db, None, Format.table).store().engine, get_settings().actor).promote(
        version
    )
    err.print(f"deal_scorer {record.version} is now the champion")


@model_app.command("rollback")
def model_rollback(db: DbOpt = None) -> None:
    """Make the previous champion the champion again."""
    record = Registry(
        resolve(db, None, Format.table).store().engine, get_settings().actor
    ).rollback()
    err.print(f"rolled back: deal_scorer {record.version} is the champion")


@model_app.command("recalibrate")
def model_recalibrate(
    db: DbOpt = None, as_of: AsOfOpt = None, fmt: FormatOpt = Format.table
) -> None:
    """Refit the champion's calibration on the latest closes (a new PATCH version)."""
    run = resolve(db, as_of, fmt)
    store = run.store()
    registry = Registry(store.engine, get_settings().actor)
    model, record = registry.load()
    new, report = recalibrate(model, FeatureInputs.load(store, run.as_of))
    summary = {
        "model": {
            "auc": report.validation.auc,
            "brier": report.validation.brier,
            "log_loss": report.validation.log_loss,
            "ece": report.validation.ece,
        },
        "calibration": report.calibration,
        "recalibrated_from": record.version,
    }
    created = registry.register(
        new,
        trained_as_of=run.as_of,
        data_hash=record.data_hash,
        info={**record.info, **summary},
        recalibration=True,
    )
    if run.json:
        emit_json({"version": created.version, "status": created.status, **summary})
    else:
        err.print(
            f"registered deal_scorer {created.version} ({created.status}), recalibrated "
            f"from {record.version} with {report.calibration}; ECE "
            f"{report.validation.ece:.4f}"
        )


@model_app.command("compare")
def model_compare(
    challenger: Annotated[str | None, typer.Argument(help="Default: newest challenger.")] = None,
    champion: Annotated[str | None, typer.Option(help="Default: the champion.")] = None,
    db: DbOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Score the same validation fold with a challenger and the champion."""
    run = resolve(db, None, fmt)
    store = run.store()
    result = compare(store, Registry(store.engine), challenger, champion)
    if run.json:
        emit_json(result)
        return
    table = Table(title=f"Same fold: {result['validation_examples']:,} snapshots")
    for col in ("role", "version", "AUC", "Brier", "ECE"):
        table.add_column(col)
    for role in ("challenger", "champion"):
        r = result[role]
        table.add_row(role, r["version"], f"{r['auc']:.3f}", f"{r['brier']:.4f}", f"{r['ece']:.4f}")
    out.print(table)
    out.print(f"better on Brier: {result['better']}")
