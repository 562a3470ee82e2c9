"""Challenger vs champion on the same validation fold."""

from __future__ import annotations

from typing import Any

from dealcast.crm.store import Store
from dealcast.ml import metrics
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.registry import Registry
from dealcast.ml.training import build_examples, time_split


def compare(
    store: Store, registry: Registry, challenger: str | None = None, champion: str | None = None
) -> dict[str, Any]:
    """Rebuild the examples at the later of the two training horizons and score that
    horizon's validation fold (its most recent closes) with both models."""
    records = registry.list()
    if challenger is None:
        newest = next((r for r in records if r.status == "challenger"), None)
        if newest is None:
            raise ValueError("no challenger to compare; train one with `dealcast train`")
        challenger = newest.version
    ch_model, ch_rec = registry.load(challenger)
    cp_model, cp_rec = registry.load(champion)
    horizon = max(ch_rec.trained_as_of, cp_rec.trained_as_of)
    examples = build_examples(FeatureInputs.load(store, horizon))
    valid = examples[time_split(examples) == "validation"]
    if valid.empty:
        raise ValueError(f"no closed deals to validate on at {horizon:%Y-%m-%d}")
    y = valid["Label"].to_numpy()
    result: dict[str, Any] = {
        "horizon": horizon,
        "validation_examples": len(valid),
        "validation_closed_from": valid["ClosedAt"].min(),
    }
    for role, model, record in (("challenger", ch_model, ch_rec), ("champion", cp_model, cp_rec)):
        m = metrics.evaluate(y, model.predict(valid[model.features]))
        result[role] = {
            "version": record.version,
            "auc": m.auc,
            "brier": m.brier,
            "log_loss": m.log_loss,
            "ece": m.ece,
            # a model trained after the fold began may have seen some of it
            "may_have_seen_fold": record.trained_as_of > valid["ClosedAt"].min(),
        }
    result["better"] = (
        "challenger" if result["challenger"]["brier"] < result["champion"]["brier"] else "champion"
    )
    return result
