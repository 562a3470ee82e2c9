"""`dealcast demo`: the main job on the embedded default, end to end.

generate the demo org (if absent) -> ingest -> train (if no model yet) -> risks -> score ->
Monte Carlo forecast (this and next quarter, stored as a snapshot) -> pipeline summary and
the committed deals most at risk, with their risks, reasons and next best action.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from rich.table import Table

from dealcast import cli_render
from dealcast.cli_common import Run, emit_json, err, out
from dealcast.cli_ml import train_model
from dealcast.cli_risk import risk_rows
from dealcast.config import get_settings
from dealcast.crm.demo import generate_demo_org
from dealcast.crm.export_import import import_export
from dealcast.ml.registry import Registry
from dealcast.ml.scoring import score
from dealcast.sim.inputs import load_inputs
from dealcast.sim.pipeline import forecast_inputs


def run_demo(run: Run, *, seed: int, scale: float) -> None:
    settings = get_settings()
    folder = settings.data_dir / f"demo-org-seed{seed}-scale{scale:g}"
    if not (folder / "Opportunity.csv").is_file():
        err.print(f"Generating the demo org (seed {seed}, scale {scale:g}) into {folder} ...")
        generate_demo_org(folder, seed=seed, scale=scale, today=run.as_of.date())
    store = run.store()
    err.print(f"Ingesting {folder} into {run.db_url} ...")
    with cli_render.import_progress() as hook:
        report = import_export(store, folder, actor=settings.actor, as_of=run.as_of, progress=hook)
    registry = Registry(store.engine, settings.actor)
    if registry.champion() is None:
        err.print("Training the deal scorer ...")
        _, message = train_model(store, run.as_of, settings.actor)
        err.print(message)
    err.print("Detecting risks and scoring open deals ...")
    risks = {r["opportunity_id"]: r["risks"] for r in risk_rows(store, run.as_of)}
    batch = score(store, run.as_of, actor=settings.actor, risks=risks)
    snap = store.as_of(run.as_of)
    open_deals = snap.open_opportunities()
    summary = pipeline_summary(open_deals, run)
    scores = pd.DataFrame(
        [
            {
                "Id": d.opportunity_id,
                "p": d.win_probability / 100.0,
                "confidence": d.confidence,
                "factors": d.top_factors,
                "risks": [r["code"] for r in d.risks if r["severity"] != "low"],
                "action": d.next_best_actions[0]["text"] if d.next_best_actions else None,
            }
            for d in batch.deals
        ]
    )
    at_risk = committed_at_risk(open_deals.merge(scores, on="Id"), run)
    summary["model_version"] = batch.model_version
    summary["expected_this_quarter"] = expected_this_quarter(open_deals.merge(scores, on="Id"), run)
    err.print("Forecasting this and next quarter (Monte Carlo) ...")
    inputs = load_inputs(
        store, run.as_of, dict(zip(scores["Id"], scores["p"], strict=True)), batch.model_version
    )
    fc = forecast_inputs(
        store,
        inputs,
        "quarter",
        2,
        seed=7,
        fiscal_start_month=settings.fiscal_start_month,
        actor=settings.actor,
    )
    if run.json:
        emit_json(
            {"import": report.as_dict(), "pipeline": summary, "forecast": fc, "at_risk": at_risk}
        )
        return
    cli_render.import_report(report)
    _print_pipeline(summary, run)
    _print_forecast(fc)
    _print_at_risk(at_risk)
    out.print(
        "Next: [bold]dealcast forecast --period month[/], [bold]dealcast scenario run[/], "
        "[bold]dealcast score --format json[/], [bold]dealcast model list[/], "
        "[bold]dealcast audit verify[/]."
    )


def pipeline_summary(open_deals: pd.DataFrame, run: Run) -> dict[str, Any]:
    amount = open_deals["Amount"].fillna(0.0)
    weighted = amount * open_deals["Probability"] / 100.0
    quarter = pd.Timestamp(run.as_of).to_period("Q")
    in_quarter = open_deals["CloseDate"].dt.to_period("Q") == quarter
    by_stage = (
        open_deals.assign(Amount=amount)
        .groupby("StageName", sort=False)["Amount"]
        .agg(["count", "sum"])
        .sort_values("sum", ascending=False)
    )
    return {
        "as_of": run.as_of,
        "open_deals": len(open_deals),
        "open_amount": float(amount.sum()),
        "quarter": str(quarter),
        "closing_this_quarter": int(in_quarter.sum()),
        "stage_weighted_this_quarter": float(weighted[in_quarter].sum()),
        "by_stage": [
            {"stage": s, "deals": int(r["count"]), "amount": float(r["sum"])}
            for s, r in by_stage.iterrows()
        ],
    }


def _print_pipeline(summary: dict[str, Any], run: Run) -> None:
    table = Table(title=f"Open pipeline as of {run.as_of:%Y-%m-%d}")
    table.add_column("stage")
    table.add_column("deals", justify="right")
    table.add_column("amount", justify="right")
    for row in summary["by_stage"]:
        table.add_row(row["stage"], f"{row['deals']:,}", f"{row['amount']:,.0f}")
    out.print(table)
    out.print(
        f"{summary['open_deals']:,} open deals worth {summary['open_amount']:,.0f}; "
        f"{summary['closing_this_quarter']:,} close in {summary['quarter']} "
        f"(stage-weighted {summary['stage_weighted_this_quarter']:,.0f}: Salesforce "
        "probability x amount, a baseline, not our forecast)."
    )
    out.print(
        f"Model {summary['model_version']}: expected bookings from open deals closing in "
        f"{summary['quarter']} = {summary['expected_this_quarter']:,.0f} (sum of calibrated win "
        "probability x amount, by stated close date)."
    )


def _print_forecast(fc: dict[str, Any]) -> None:
    table = Table(title=f"Forecast (Monte Carlo, {fc['n_sims']:,} simulations, seed {fc['seed']})")
    for col in ("quarter", "booked", "expected", "P10", "P50", "P90", "commit", "note"):
        table.add_column(col, justify="left" if col in ("quarter", "note") else "right")
    for p in fc["periods"]:
        money = [p[k] for k in ("closed_won", "expected", "p10", "p50", "p90", "commit")]
        note = "interval wide: see P10-P90" if p["unreliable"] else ""
        table.add_row(p["period"], *[f"{v or 0:,.0f}" for v in money], note)
    out.print(table)


def _in_quarter(deals: pd.DataFrame, run: Run) -> pd.Series:
    quarter = pd.Timestamp(run.as_of).to_period("Q")
    return deals["CloseDate"].dt.to_period("Q") == quarter


def expected_this_quarter(scored: pd.DataFrame, run: Run) -> float:
    mask = _in_quarter(scored, run)
    return float((scored.loc[mask, "Amount"].fillna(0.0) * scored.loc[mask, "p"]).sum())


def committed_at_risk(scored: pd.DataFrame, run: Run, top: int = 8) -> list[dict[str, Any]]:
    """Commit / Best Case deals closing this quarter, ranked by the amount they put at risk."""
    pool = scored[
        _in_quarter(scored, run) & scored["ForecastCategoryName"].isin(["Commit", "Best Case"])
    ].copy()
    pool["at_risk"] = pool["Amount"].fillna(0.0) * (1.0 - pool["p"])
    rows = []
    for _, deal in pool.nlargest(top, "at_risk").iterrows():
        against = [f["text"] for f in deal["factors"] if f["impact_pts"] < 0][:2]
        rows.append(
            {
                "opportunity_id": deal["Id"],
                "name": deal["Name"],
                "category": deal["ForecastCategoryName"],
                "amount": deal["Amount"],
                "win_probability": round(deal["p"] * 100, 1),
                "confidence": deal["confidence"],
                "risks": deal["risks"],
                "reasons": against,
                "next_best_action": deal["action"] if isinstance(deal["action"], str) else None,
            }
        )
    return rows


def _print_at_risk(rows: list[dict[str, Any]]) -> None:
    # On a narrow terminal the SHAP reasons go: risks and the next action matter most there.
    wide = out.width >= 140
    table = Table(title="Committed deals most at risk this quarter")
    columns = [
        "deal",
        "category",
        "amount",
        "win %",
        "risks",
        *(["why"] if wide else []),
        "next best action",
    ]
    for col in columns:
        table.add_column(col, justify="right" if col in ("amount", "win %") else "left")
    for r in rows:
        cells = [
            r["name"],
            r["category"],
            f"{r['amount'] or 0:,.0f}",
            f"{r['win_probability']:.0f}",
            ", ".join(r["risks"]) or "-",
        ]
        if wide:
            cells.append("; ".join(r["reasons"]) or "-")
        cells.append(r["next_best_action"] or "-")
        table.add_row(*cells)
    out.print(table)
