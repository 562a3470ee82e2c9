"""Score open deals as of T: calibrated probability, confidence, SHAP reasons; audited.

Fallbacks, each visible in the output:
- model missing, corrupt or raising -> the rule-based scorer, `model_version: "rules"`;
- scoring over its time budget -> each deal's last stored score, `stale: true` (deals never
  scored before get the rule-based score on their stage);
- missing feature values -> training medians, listed in `imputed`, confidence lowered.
"""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from dealcast.crm import audit
from dealcast.crm.schema import prediction
from dealcast.crm.store import Store
from dealcast.ml import explain
from dealcast.ml.confidence import REVIEW_BELOW, RULES_CONFIDENCE, confidence
from dealcast.ml.feature_store import FeatureStore
from dealcast.ml.features import FEATURE_NAMES
from dealcast.ml.registry import ModelUnavailable, Registry
from dealcast.ml.rules import RULES_VERSION, rule_probability, rule_reasons
from dealcast.risk.actions import recommend

DEFAULT_BUDGET_S = 60.0


@dataclass
class DealScore:
    opportunity_id: str
    win_probability: float  # 0-100, calibrated
    confidence: float  # 0-100
    needs_review: bool
    model_version: str
    top_factors: list[dict[str, Any]]
    as_of: datetime  # the instant the score describes (features known by then)
    scored_at: datetime  # wall-clock time it was computed
    stale: bool = False
    imputed: list[str] = field(default_factory=list)
    confidence_factors: dict[str, float] = field(default_factory=dict)
    next_best_actions: list[dict[str, Any]] = field(default_factory=list)
    risks: list[dict[str, Any]] = field(default_factory=list)
    features: dict[str, float | None] = field(default_factory=dict, repr=False)


@dataclass
class ScoreBatch:
    as_of: datetime
    batch_id: str
    model_version: str
    deals: list[DealScore]
    fallback: str | None = None  # why the model was not used, when it was not

    def as_dict(self, with_features: bool = False) -> dict[str, Any]:
        deals = []
        for d in self.deals:
            row = asdict(d)
            if not with_features:
                row.pop("features")
            deals.append(row)
        return {
            "as_of": self.as_of,
            "batch_id": self.batch_id,
            "model_version": self.model_version,
            "fallback": self.fallback,
            "deals": deals,
        }


def score(
    store: Store,
    as_of: datetime,
    deal_ids: Iterable[str] | None = None,
    *,
    actor: str = "system",
    budget_s: float = DEFAULT_BUDGET_S,
    risks: Mapping[str, list[dict[str, Any]]] | None = None,
) -> ScoreBatch:
    """Score every deal open at `as_of` (or just `deal_ids`), store and audit the batch.
    `risks` (per deal, from the risk detectors) are attached and steer the actions."""
    snap = store.as_of(as_of, deal_ids)
    open_deals = snap.open_opportunities(last_activity=False)  # not needed to score
    ids = list(open_deals["Id"])
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    risks = risks or {}
    codes = {i: [r["code"] for r in risks.get(i, [])] for i in ids}
    future = pool.submit(_score_fresh, store, snap.as_of, ids, codes)
    try:
        deals, version, fallback = future.result(timeout=budget_s)
    except concurrent.futures.TimeoutError:
        deals = _cached_or_rules(store, snap.as_of, open_deals)
        version, fallback = "cached", f"scoring took longer than its {budget_s:g}s budget"
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    for deal in deals:
        deal.risks = list(risks.get(deal.opportunity_id, []))
    batch = ScoreBatch(snap.as_of, uuid.uuid4().hex, version, deals, fallback)
    _persist(store, batch, actor)
    return batch


def _score_fresh(
    store: Store, as_of: datetime, ids: list[str], codes: Mapping[str, list[str]] | None = None
) -> tuple[list[DealScore], str, str | None]:
    if not ids:
        return [], _champion_version(store), None
    feats = FeatureStore(store).features(as_of, ids)
    try:
        model, record = Registry(store.engine).load()
        scores = _model_scores(model, record.version, feats, as_of, codes or {})
        return scores, record.version, None
    except ModelUnavailable as exc:
        reason = str(exc)
    except Exception as exc:  # a model that raises must not stop scoring
        reason = f"the model failed: {type(exc).__name__}: {exc}"
    return _rule_scores(feats, as_of), RULES_VERSION, reason


def _champion_version(store: Store) -> str:
    record = Registry(store.engine).champion()
    return record.version if record else RULES_VERSION


def _model_scores(
    model: Any,
    version: str,
    feats: pd.DataFrame,
    as_of: datetime,
    codes: Mapping[str, list[str]],
) -> list[DealScore]:
    values = feats[list(model.features)].astype(float)
    imputed = values.isna().to_numpy()
    margin = model.margin(values)  # each call picks its xgboost threads (`threads_for`)
    p = model.calibrator.apply(margin)
    contribs = model.contributions(values)
    impacts = explain.impacts(contribs, margin, model.calibrator)
    against = [[model.features[j] for j in np.flatnonzero(row <= -1.0)] for row in impacts]
    deal_codes = [codes.get(str(i), []) for i in feats["OpportunityId"]]
    records = cast(list[dict[str, Any]], feats.to_dict("records"))
    actions = recommend(model, feats, deal_codes, against, base=p, records=records)
    conf, factors = confidence(
        values, imputed, model.low, model.high, p, model.calibrator.support(margin)
    )
    names = list(model.features)
    feature_dicts = _feature_dicts(feats)
    out = []
    for i, row in enumerate(records):
        missing = [f for f, m in zip(names, imputed[i], strict=True) if m]
        out.append(
            DealScore(
                opportunity_id=str(row["OpportunityId"]),
                win_probability=round(float(p[i]) * 100, 1),
                confidence=float(conf[i]),
                needs_review=bool(conf[i] < REVIEW_BELOW),
                model_version=version,
                top_factors=explain.top_factors(row, names, impacts[i], set(missing)),
                as_of=as_of,
                scored_at=_now(),
                imputed=missing,
                confidence_factors={k: round(float(v[i]), 3) for k, v in factors.items()},
                next_best_actions=actions[i],
                features=feature_dicts[i],
            )
        )
    return out


def _rule_scores(feats: pd.DataFrame, as_of: datetime) -> list[DealScore]:
    p = rule_probability(feats)
    feature_dicts = _feature_dicts(feats)
    return [
        DealScore(
            opportunity_id=str(feats.iloc[i]["OpportunityId"]),
            win_probability=round(float(p[i]) * 100, 1),
            confidence=RULES_CONFIDENCE,
            needs_review=True,
            model_version=RULES_VERSION,
            top_factors=[
                {
                    "feature": None,
                    "value": None,
                    "impact_pts": round(pts, 1),
                    "text": f"{text}: {explain.points(pts)}" if pts else text,
                }
                for text, pts in rule_reasons(feats.iloc[i])
            ],
            as_of=as_of,
            scored_at=_now(),
            features=feature_dicts[i],
        )
        for i in range(len(feats))
    ]


def _feature_dicts(feats: pd.DataFrame) -> list[dict[str, float | None]]:
    values = feats[list(FEATURE_NAMES)].to_numpy(float).tolist()  # Python floats, at once
    return [
        {f: (None if v != v else v) for f, v in zip(FEATURE_NAMES, row, strict=True)}  # NaN
        for row in values
    ]


def _cached_or_rules(store: Store, as_of: datetime, open_deals: pd.DataFrame) -> list[DealScore]:
    latest = (
        select(prediction.c.opportunity_id, func.max(prediction.c.id).label("id"))
        .where(prediction.c.as_of <= as_of)
        .group_by(prediction.c.opportunity_id)
        .subquery()
    )
    query = select(prediction).join(latest, prediction.c.id == latest.c.id)
    with store.engine.connect() as conn:
        cached = {r.opportunity_id: r for r in conn.execute(query)}
    out = []
    for _, deal in open_deals.iterrows():
        hit = cached.get(deal["Id"])
        if hit is not None:
            payload = dict(hit.payload)
            out.append(
                DealScore(
                    opportunity_id=deal["Id"],
                    win_probability=hit.win_probability,
                    confidence=hit.confidence,
                    needs_review=hit.needs_review,
                    model_version=hit.model_version,
                    top_factors=payload.get("top_factors", []),
                    as_of=hit.as_of,
                    scored_at=hit.scored_at,
                    stale=True,
                    imputed=payload.get("imputed", []),
                )
            )
            continue
        stage_p = float(deal["Probability"]) if not pd.isna(deal["Probability"]) else 10.0
        out.append(
            DealScore(
                opportunity_id=deal["Id"],
                win_probability=round(stage_p, 1),
                confidence=RULES_CONFIDENCE,
                needs_review=True,
                model_version=RULES_VERSION,
                top_factors=[
                    {
                        "feature": None,
                        "value": None,
                        "impact_pts": 0.0,
                        "text": f"Stage {deal['StageName']}: Salesforce probability "
                        f"{stage_p:.0f}% (no score within the time budget)",
                    }
                ],
                as_of=as_of,
                scored_at=_now(),
            )
        )
    return out


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _persist(store: Store, batch: ScoreBatch, actor: str) -> None:
    rows = [
        {
            "batch_id": batch.batch_id,
            "opportunity_id": d.opportunity_id,
            "as_of": d.as_of,
            "scored_at": d.scored_at,
            "model_version": d.model_version,
            "win_probability": d.win_probability,
            "confidence": d.confidence,
            "needs_review": d.needs_review,
            "payload": {
                "top_factors": d.top_factors,
                "imputed": d.imputed,
                "stale": d.stale,
                "features": d.features,
            },
        }
        for d in batch.deals
        if not d.stale
    ]
    probs = np.array([d.win_probability for d in batch.deals]) if batch.deals else np.zeros(0)
    with store.engine.begin() as conn:
        if rows:
            conn.execute(prediction.insert(), rows)
        audit.append(
            conn,
            actor=actor,
            action="predict",
            subject=f"batch {batch.batch_id}",
            as_of=batch.as_of,
            model_version=batch.model_version,
            inputs_hash=audit.hash_inputs(sorted(d.opportunity_id for d in batch.deals)),
            outputs={
                "deals": len(batch.deals),
                "fallback": batch.fallback,
                "mean_win_probability": round(float(probs.mean()), 2) if len(probs) else None,
                "needs_review": sum(d.needs_review for d in batch.deals),
                "stale": sum(d.stale for d in batch.deals),
            },
        )
