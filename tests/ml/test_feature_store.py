from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest

from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from dealcast.ml import feature_store
from dealcast.ml.feature_store import FeatureStore, RefreshPolicy
from tests.demo_org import DemoOrg, copy_store


@pytest.fixture
def store(demo_org: DemoOrg, tmp_path: Path) -> Store:
    return copy_store(demo_org.store, tmp_path / "fs.db")


def test_materialises_and_serves_within_the_refresh_interval(
    store: Store, demo_org: DemoOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = list(store.as_of(demo_org.as_of).open_opportunities()["Id"])[:200]
    fs = FeatureStore(store)
    first = fs.features(demo_org.as_of, ids)
    assert list(first["OpportunityId"]) == sorted(ids)
    assert (first["FeaturesAsOf"] == pd.Timestamp(demo_org.as_of)).all()

    calls: list[int] = []
    real = feature_store.compute
    monkeypatch.setattr(
        feature_store,
        "compute",
        lambda inputs, pairs: calls.append(len(pairs)) or real(inputs, pairs),
    )
    later = demo_org.as_of + timedelta(minutes=30)
    again = fs.features(later, ids)
    assert calls == []  # everything was fresh enough
    pd.testing.assert_frame_equal(
        again.drop(columns=["AsOf"]), first.drop(columns=["AsOf"]), check_dtype=False
    )

    # two hours on: active deals are recomputed, idle ones are still served
    active = (first["activity_count_30d"] > 0) | (first["days_since_last_inbound"] < 14)
    assert 0 < active.sum() < len(ids)
    fs.features(demo_org.as_of + timedelta(hours=2), ids)
    assert calls == [int(active.sum())]


def test_never_serves_features_from_the_future(store: Store, demo_org: DemoOrg) -> None:
    ids = list(store.as_of(demo_org.as_of).open_opportunities()["Id"])[:20]
    fs = FeatureStore(
        store, RefreshPolicy(idle_every=timedelta(days=365), active_every=timedelta(days=365))
    )
    fs.features(demo_org.as_of, ids)
    earlier = demo_org.as_of - timedelta(days=1)
    feats = fs.features(
        earlier, [i for i in ids if store.as_of(earlier, [i]).open_opportunities().shape[0]]
    )
    assert (feats["FeaturesAsOf"] <= pd.Timestamp(earlier)).all()


def test_imports_invalidate_materialised_features(store: Store, demo_org: DemoOrg) -> None:
    ids = list(store.as_of(demo_org.as_of).open_opportunities()["Id"])[:10]
    fs = FeatureStore(store)
    fs.features(demo_org.as_of, ids)
    assert len(fs._fresh(demo_org.as_of, ids)) == 10
    import_export(store, demo_org.folder, actor="t", as_of=demo_org.as_of)  # unchanged data
    assert len(fs._fresh(demo_org.as_of, ids)) == 10  # nothing changed: kept
    fs.invalidate(ids[:3])
    assert len(fs._fresh(demo_org.as_of, ids)) == 7
