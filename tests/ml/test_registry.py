from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import update

from dealcast.crm.schema import model_registry
from dealcast.crm.store import Store
from dealcast.ml.model import CalibratedModel, ModelParams
from dealcast.ml.registry import ModelUnavailable, Registry


def _model(columns: list[str], seed: int = 0) -> CalibratedModel:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(400, len(columns))), columns=columns)
    y = (x.iloc[:, 0] + rng.normal(size=400) > 0).to_numpy(int)
    model, _ = CalibratedModel.fit((x, y), (x, y), (x, y), ModelParams(n_estimators=5))
    return model


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    return Registry(Store.open(f"sqlite:///{tmp_path / 'r.db'}").engine, actor="tester")


def _register(registry: Registry, model: CalibratedModel, **kw: object) -> str:
    return registry.register(
        model,
        trained_as_of=datetime(2026, 1, 1),
        data_hash="d" * 64,
        info={"model": {"auc": 0.8, "brier": 0.1, "ece": 0.01}},
        **kw,
    ).version  # type: ignore[arg-type]


def test_semantic_versions_and_champion(registry: Registry) -> None:
    base = _model(["a", "b"])
    assert _register(registry, base) == "1.0.0"
    assert registry.champion().version == "1.0.0"  # type: ignore[union-attr]
    assert _register(registry, base) == "1.1.0"  # retrain, same features
    assert _register(registry, base, recalibration=True) == "1.1.1"
    assert _register(registry, _model(["a", "b", "c"])) == "2.0.0"  # new feature set
    assert [r.status for r in registry.list()] == ["challenger"] * 3 + ["champion"]


def test_promote_and_rollback_are_audited(registry: Registry) -> None:
    base = _model(["a", "b"])
    _register(registry, base)
    _register(registry, base)
    registry.promote("1.1.0")
    assert registry.champion().version == "1.1.0"  # type: ignore[union-attr]
    assert registry.rollback().version == "1.0.0"
    with pytest.raises(ValueError, match=r"registered: 1\.1\.0, 1\.0\.0"):
        registry.promote("9.9.9")
    store = Store(registry.engine)
    actions = [e.action for e in store.audit_entries()]
    assert actions == ["promote", "promote", "train", "train"]
    assert store.verify_audit().ok


def test_load_reproduces_and_corruption_is_reported(registry: Registry) -> None:
    model = _model(["a", "b"])
    _register(registry, model)
    loaded, record = registry.load()
    x = pd.DataFrame({"a": [0.1, -1.0], "b": [2.0, 0.0]})
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert record.info["features"] == ["a", "b"]
    with registry.engine.begin() as conn:
        conn.execute(update(model_registry).values(artifact=b"garbage"))
    with pytest.raises(ModelUnavailable, match="cannot be loaded"):
        registry.load()


def test_no_model_yet(registry: Registry) -> None:
    with pytest.raises(ModelUnavailable, match="no model"):
        registry.load()
    with pytest.raises(ValueError, match="nothing to roll back"):
        registry.rollback()
