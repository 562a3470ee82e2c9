"""After a CRM sync: rescore the deals that changed and recompute the affected forecasts.

`crm/` knows nothing of scoring or forecasting, so this orchestration lives at the package
top. A sync reports the opportunities it touched (`SyncReport.changed_opportunities`; None
after a full sync, when anything may have changed): their own rows or linked rows (history,
roles, activities), their account, or their contacts changed (`crm.affected`). It also says
whether users changed (`people_changed`: names, managers), which moves roll-ups.

1. only those deals are re-featured and rescored by the champion (`ml.scoring.score` with
   `deal_ids`; stored and audited); after a full sync every open deal is;
2. each requested forecast is recomputed on every open deal: the fresh scores for the
   changed deals, each other deal's latest stored champion score (`sim.stored_scores`), and
   a fresh score for open deals never scored by the champion. The forecast snapshot and its
   audit entry are stored as `dealcast forecast` stores them.

A sync that changed no deal rescores nothing and recomputes the forecasts only if users
changed (the teams of the roll-ups follow User.ManagerId); otherwise it does nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from dealcast.crm.store import Store
from dealcast.ml.registry import Registry
from dealcast.ml.rules import RULES_VERSION
from dealcast.ml.scoring import ScoreBatch, score
from dealcast.sim.inputs import load_inputs
from dealcast.sim.montecarlo import DEFAULT_LEVELS
from dealcast.sim.periods import periods_from
from dealcast.sim.pipeline import check_request, payload_for
from dealcast.sim.snapshots import save_forecast
from dealcast.sim.stored_scores import latest_probabilities

log = logging.getLogger(__name__)
DEFAULT_PERIODS = 2  # the current and the next period, as `dealcast forecast` does


class ChangedDeals(Protocol):
    """What a sync report must say (`crm.salesforce_sync.SyncReport` does)."""

    @property
    def changed_opportunities(self) -> list[str] | None: ...


def _people_changed(report: ChangedDeals) -> bool:
    """Optional on a report (older callers have no such field): False when absent."""
    return bool(getattr(report, "people_changed", False))


def refresh_after_sync(
    store: Store,
    report: ChangedDeals,
    *,
    as_of: datetime,
    actor: str,
    forecast_kinds: Sequence[str] = ("quarter",),
    n_periods: int = DEFAULT_PERIODS,
    seed: int = 7,
    n_sims: int = 10_000,
    levels: Sequence[float] = DEFAULT_LEVELS,
    fiscal_start_month: int = 1,
) -> dict[str, Any]:
    """Rescore what the sync changed and recompute the forecasts of `forecast_kinds`; a
    summary: what was rescored, each forecast's run id and figures, seconds per stage."""
    for kind in forecast_kinds:
        check_request(kind, n_periods, n_sims)
    changed = report.changed_opportunities
    out: dict[str, Any] = {
        "as_of": as_of,
        "changed_deals": None if changed is None else len(changed),
        "rescored": 0,
        "score_batch": None,
        "model_version": None,
        "forecasts": [],
        "seconds": {},
        "cpu_seconds": {},  # process CPU time per stage (all threads), beside the wall time
    }
    if changed is not None and not changed and not _people_changed(report):
        out["skipped"] = "the sync changed no deal"
        return out
    start, cpu = time.perf_counter(), time.process_time()
    # no deal changed but users did: no rescore, the forecast on the stored scores
    batch = score(store, as_of, changed, actor=actor) if changed != [] else None
    out["seconds"]["rescore"] = round(time.perf_counter() - start, 3)
    out["cpu_seconds"]["rescore"] = round(time.process_time() - cpu, 3)
    if batch is not None:
        out.update(
            rescored=len(batch.deals),
            score_batch=batch.batch_id,
            model_version=batch.model_version,
        )
    start, cpu = time.perf_counter(), time.process_time()
    probabilities = _probabilities(store, batch, as_of, full=changed is None)
    out["seconds"]["stored_scores"] = round(time.perf_counter() - start, 3)
    out["cpu_seconds"]["stored_scores"] = round(time.process_time() - cpu, 3)
    for kind in forecast_kinds:
        start, cpu = time.perf_counter(), time.process_time()
        payload = _forecast(
            store,
            as_of,
            kind,
            n_periods,
            seed,
            probabilities,
            batch,
            n_sims=n_sims,
            levels=levels,
            fiscal_start_month=fiscal_start_month,
            actor=actor,
        )
        out["seconds"][f"forecast_{kind}"] = round(time.perf_counter() - start, 3)
        out["cpu_seconds"][f"forecast_{kind}"] = round(time.process_time() - cpu, 3)
        out["forecasts"].append(_summary(payload))
    return out


def _probabilities(
    store: Store, batch: ScoreBatch | None, as_of: datetime, *, full: bool
) -> dict[str, float]:
    """Every open deal's win probability (0-1): the fresh batch over the latest stored
    champion scores (the batch alone when it scored everything)."""
    fresh = (
        {} if batch is None else {d.opportunity_id: d.win_probability / 100.0 for d in batch.deals}
    )
    if full:
        return fresh
    at = as_of if batch is None else batch.as_of
    return {**latest_probabilities(store, at, champion_version(store)), **fresh}


def champion_version(store: Store) -> str:
    """The version whose stored scores stand for unchanged deals (the scorer's own choice:
    the champion, else the rule-based scorer)."""
    record = Registry(store.engine).champion()
    return record.version if record else RULES_VERSION


def _forecast(
    store: Store,
    as_of: datetime,
    kind: str,
    n_periods: int,
    seed: int,
    probabilities: dict[str, float],
    batch: ScoreBatch | None,
    *,
    n_sims: int,
    levels: Sequence[float],
    fiscal_start_month: int,
    actor: str,
) -> dict[str, Any]:
    """`sim.pipeline.forecast` on the given scores (open deals they miss get scored)."""
    inputs = load_inputs(
        store,
        as_of,
        probabilities,
        champion_version(store) if batch is None else batch.model_version,
        actor=actor,
        score_missing=True,
        fiscal_start_month=fiscal_start_month,
    )
    periods = periods_from(inputs.as_of, kind, n_periods, fiscal_start_month=fiscal_start_month)
    payload = payload_for(inputs, periods, kind, seed, n_sims, levels, store)
    payload["batch_id"] = inputs.batch_id or (batch.batch_id if batch else None)
    save_forecast(store, payload, actor=actor)
    return payload


def _summary(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "period_kind": payload["period_kind"],
        "run_id": payload.get("run_id"),
        "open_deals": payload["open_deals"],
        "model_version": payload["model_version"],
        "periods": [
            {
                k: p.get(k)
                for k in ("period", "expected", "p10", "p90", "closed_won", "method", "unreliable")
            }
            for p in payload["periods"]
        ],
    }


def update_search_index(store: Store) -> dict[str, Any] | None:
    """After an ingest or a sync: embed the new or changed activities into the search index,
    when the store has one (None otherwise: a first build is an explicit `dealcast index`).
    The import is already committed, so a failure here is reported, not raised: the index
    catches up at the next update."""
    from dealcast.rag.index import refresh_index  # Chroma + ONNX Runtime: only when used

    try:
        report = refresh_index(store)
    except Exception as exc:
        log.warning("search index update failed: %s", exc, exc_info=True)
        return {"error": f"{type(exc).__name__}: {exc}"}
    return None if report is None else report.as_dict()
