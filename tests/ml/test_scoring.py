from __future__ import annotations

import time
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from dealcast.cli_ml import train_model
from dealcast.crm.schema import model_registry, prediction
from dealcast.crm.store import Store
from dealcast.ml import feature_store, scoring
from dealcast.ml.feature_store import FeatureStore
from dealcast.ml.model import CalibratedModel
from dealcast.ml.registry import ModelUnavailable, Registry
from tests.demo_org import DemoOrg, copy_store


@pytest.fixture(scope="module")
def trained(demo_org: DemoOrg, tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = copy_store(demo_org.store, tmp_path_factory.mktemp("trained") / "t.db")
    result, _ = train_model(store, demo_org.as_of, "tester")
    assert result is not None
    return store


@pytest.fixture
def store(trained: Store, tmp_path: Path) -> Store:
    return copy_store(trained, tmp_path / "s.db")


def test_scores_every_open_deal_with_reasons(store: Store, demo_org: DemoOrg) -> None:
    batch = scoring.score(store, demo_org.as_of, actor="tester")
    open_ids = set(store.as_of(demo_org.as_of).open_opportunities()["Id"])
    assert {d.opportunity_id for d in batch.deals} == open_ids
    assert batch.model_version == "1.0.0" and batch.fallback is None
    for deal in batch.deals:
        assert 0 < deal.win_probability < 100 and 0 <= deal.confidence <= 100
        assert deal.needs_review == (deal.confidence < 70)
        assert not deal.stale and deal.model_version == "1.0.0"
    texts = [f["text"] for d in batch.deals for f in d.top_factors]
    assert any(t.endswith(" pts") for t in texts)
    assert any("\u2212" in t for t in texts)  # some factors count against a deal


def test_batch_is_stored_and_audited(store: Store, demo_org: DemoOrg) -> None:
    batch = scoring.score(store, demo_org.as_of, actor="tester")
    with store.engine.connect() as conn:
        rows = conn.execute(select(prediction).where(prediction.c.batch_id == batch.batch_id)).all()
    assert len(rows) == len(batch.deals)
    entry = store.audit_entries(action="predict")[0]
    assert entry.model_version == "1.0.0" and entry.outputs["deals"] == len(batch.deals)
    assert store.verify_audit().ok


def test_single_deal_matches_the_batch(store: Store, demo_org: DemoOrg) -> None:
    batch = scoring.score(store, demo_org.as_of)
    deal = batch.deals[0]
    one = scoring.score(store, demo_org.as_of, [deal.opportunity_id]).deals
    assert len(one) == 1 and one[0].win_probability == deal.win_probability


def test_no_model_falls_back_to_rules(demo_org: DemoOrg, tmp_path: Path) -> None:
    bare = copy_store(demo_org.store, tmp_path / "bare.db")
    batch = scoring.score(bare, demo_org.as_of)
    assert batch.model_version == "rules" and "no model" in (batch.fallback or "")
    assert all(d.model_version == "rules" and d.needs_review for d in batch.deals)


def test_corrupt_model_falls_back_to_rules(store: Store, demo_org: DemoOrg) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(model_registry).values(artifact=b"\x00broken"))
    batch = scoring.score(store, demo_org.as_of)
    assert batch.model_version == "rules" and "cannot be loaded" in (batch.fallback or "")


def test_raising_model_falls_back_to_rules(
    store: Store, demo_org: DemoOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*_: Any) -> None:
        raise RuntimeError("xgboost exploded")

    monkeypatch.setattr(CalibratedModel, "margin", boom)
    batch = scoring.score(store, demo_org.as_of)
    assert batch.model_version == "rules" and "xgboost exploded" in (batch.fallback or "")


def test_over_budget_serves_cached_scores_marked_stale(
    store: Store, demo_org: DemoOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = {d.opportunity_id: d for d in scoring.score(store, demo_org.as_of).deals}
    real = scoring._score_fresh

    def slow(*args: Any) -> Any:
        time.sleep(1.5)
        return real(*args)

    monkeypatch.setattr(scoring, "_score_fresh", slow)
    batch = scoring.score(store, demo_org.as_of, budget_s=0.2)
    assert "budget" in (batch.fallback or "")
    assert all(d.stale for d in batch.deals)
    for d in batch.deals:
        assert d.win_probability == first[d.opportunity_id].win_probability


def test_missing_features_are_imputed_and_lower_confidence(
    store: Store, demo_org: DemoOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    full = {d.opportunity_id: d for d in scoring.score(store, demo_org.as_of).deals}
    FeatureStore(store).invalidate()
    real_compute = feature_store.compute

    def lossy(*args: Any) -> Any:
        feats = real_compute(*args)
        feats[["email_response_rate", "owner_win_rate", "account_health_score"]] = float("nan")
        return feats

    monkeypatch.setattr(feature_store, "compute", lossy)
    lossy_scores = scoring.score(store, demo_org.as_of).deals
    for d in lossy_scores:
        before = full[d.opportunity_id]
        assert {"email_response_rate", "owner_win_rate"} <= set(d.imputed)
        assert d.confidence_factors["completeness"] < before.confidence_factors["completeness"]
        # the score is confidence = 100 x completeness x familiarity x certainty
        assert d.confidence == pytest.approx(
            100 * np.prod(list(d.confidence_factors.values())), abs=0.2
        )
    mean = np.mean([d.confidence for d in lossy_scores])
    assert mean < np.mean([d.confidence for d in full.values()])


def test_risks_are_attached_and_steer_the_actions(store: Store, demo_org: DemoOrg) -> None:
    first = scoring.score(store, demo_org.as_of)
    no_dm = [
        d.opportunity_id for d in first.deals if d.features.get("decision_maker_engaged") == 0.0
    ][:40]
    risk = {"code": "no_decision_maker", "severity": "high", "message": "m", "evidence": []}
    batch = scoring.score(store, demo_org.as_of, no_dm, risks={i: [risk] for i in no_dm})
    assert all(d.risks == [risk] for d in batch.deals)
    answering = [
        a
        for d in batch.deals
        for a in d.next_best_actions
        if a["action"] == "engage_economic_buyer"
    ]
    assert answering and all("no_decision_maker" in a["addresses"] for a in answering)
    assert all(a["expected_change_pts"] >= 0.5 for d in batch.deals for a in d.next_best_actions)


def test_incremental_rescore_matches_the_full_run(store: Store, demo_org: DemoOrg) -> None:
    """Rescoring a few changed deals gives exactly what a full run gives them: the same
    probabilities, confidence, factors and actions (on the hour, so the org-wide context
    of both runs is exact at T)."""
    t = datetime(2026, 6, 30, 15, 0)
    open_ids = sorted(store.as_of(t).open_opportunities()["Id"])
    risk = {"code": "no_decision_maker", "severity": "high", "message": "m", "evidence": []}
    stalled = {"code": "stalled", "severity": "medium", "message": "m", "evidence": []}
    risks = {i: [risk] if n % 3 == 0 else [stalled] for n, i in enumerate(open_ids[::2])}
    full = {d.opportunity_id: d for d in scoring.score(store, t, risks=risks).deals}
    changed = open_ids[5::9]
    FeatureStore(store).invalidate(changed)  # as after an import that touched them
    part = scoring.score(store, t, changed, risks=risks).deals
    assert [d.opportunity_id for d in part] == changed and len(changed) > 20
    assert sum(bool(d.next_best_actions) for d in part) > 5
    for d in part:
        whole = full[d.opportunity_id]
        for name in (
            "win_probability",
            "confidence",
            "confidence_factors",
            "needs_review",
            "model_version",
            "top_factors",
            "next_best_actions",
            "imputed",
            "features",
            "risks",
        ):
            assert getattr(d, name) == getattr(whole, name), (d.opportunity_id, name)


def test_loaded_models_are_reused_until_the_artifact_changes(store: Store) -> None:
    registry = Registry(store.engine)
    first, _ = registry.load()
    again, _ = registry.load()
    assert again is first  # parsed once per artifact
    with store.engine.begin() as conn:
        conn.execute(update(model_registry).values(artifact=b"\x00broken"))
    with pytest.raises(ModelUnavailable, match="cannot be loaded"):
        registry.load()
