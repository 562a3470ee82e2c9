from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.features import compute
from tests.crm.export_builder import O1, minimal_export, sfid
from tests.crm.pit_suite import _append
from tests.demo_org import DemoOrg, copy_store


def _features(store: Store, t: datetime, ids: list[str], scoped: bool) -> pd.DataFrame:
    inputs = FeatureInputs.load(store, t, ids if scoped else None)
    return compute(inputs, pd.DataFrame({"OpportunityId": ids, "AsOf": t}))


def test_fast_path_equals_exact_path_on_the_hour(demo_org: DemoOrg) -> None:
    t = datetime(2026, 6, 30, 15, 0, 0)
    ids = sorted(demo_org.store.as_of(t).open_opportunities()["Id"])[:300]
    exact = _features(demo_org.store, t, ids, scoped=False)
    fast = _features(demo_org.store, t, ids, scoped=True)
    pd.testing.assert_frame_equal(exact, fast)


def test_target_deals_are_exact_even_mid_hour(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'o.db'}")
    folder = minimal_export(tmp_path / "exp")
    _append(
        folder / "OpportunityHistory.csv",
        [
            {
                "Id": sfid("008", 30),
                "OpportunityId": O1,
                "StageName": "Proposal/Price Quote",
                "Amount": 95000,
                "CloseDate": "2025-03-31",
                "Probability": 75,
                "ForecastCategory": "Best Case",
                "CreatedDate": "2025-02-20T12:15:00Z",
            },
        ],
    )
    import_export(store, folder, actor="t", as_of=datetime(2025, 7, 1))
    t = datetime(2025, 2, 20, 12, 30)
    fast = _features(store, t, [O1], scoped=True).iloc[0]
    assert fast["Amount"] == 95000  # changed at 12:15, after the cached hour began
    before = _features(store, datetime(2025, 2, 20, 12, 10), [O1], scoped=True).iloc[0]
    assert before["Amount"] == 100000  # and never seen before it happened


def test_org_frames_are_reused_within_the_hour(
    demo_org: DemoOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dealcast.ml import org_context

    calls: list[int] = []
    real = org_context.Snapshot.opportunities
    monkeypatch.setattr(
        org_context.Snapshot,
        "opportunities",
        lambda self, **kw: calls.append(1) or real(self, **kw),
    )
    t = datetime(2026, 6, 30, 16, 0)
    ids = sorted(demo_org.store.as_of(t).open_opportunities()["Id"])[:5]
    FeatureInputs.load(demo_org.store, t, ids)
    first = len(calls)
    FeatureInputs.load(demo_org.store, t.replace(minute=20), ids)
    assert len(calls) == first + 1  # only the target deals were read again, not the org


def test_text_signals_are_served_from_the_cache_exactly(
    demo_org: DemoOrg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The one-query lookup of cached text signals agrees with `cached_signals`, computes
    (and stores) what is missing through it, and then finds every activity's flags."""
    from dealcast.crm.activities import activity_frame
    from dealcast.crm.schema import text_signal
    from dealcast.ml import activity_signals, feature_inputs
    from dealcast.risk.context_text import mask_names
    from dealcast.risk.signal_cache import cached_signals
    from dealcast.risk.text_patterns import TextSignals

    store = copy_store(demo_org.store, tmp_path / "ts.db")
    with store.engine.begin() as conn:
        conn.execute(text_signal.delete())
    ids = sorted(store.as_of(demo_org.as_of).open_opportunities()["Id"])[:40]
    snap = store.as_of(demo_org.as_of, ids)
    acts = activity_frame(snap)
    masked, signals = ["Price", "Budget"], TextSignals()
    cache = activity_signals.SignalCache(store.engine, signals, masked, snap.as_of)
    cold = feature_inputs._signal_flags(cache, snap, acts)  # computes, stores

    def nothing_left(*_: object, **__: object) -> None:
        raise AssertionError("every activity's flags should have been found in the cache")

    monkeypatch.setattr(activity_signals, "cached_signals", nothing_left)
    warm = feature_inputs._signal_flags(cache, snap, acts)
    expected = cached_signals(
        store.engine,
        acts["Id"],
        acts["Text"],
        signals,
        prepare=lambda texts: mask_names(texts, masked),
        prepare_key="mask:" + "|".join(masked),
    )[list(feature_inputs.TEXT_SIGNALS)]
    assert len(acts) > 100 and expected.to_numpy().any()
    pd.testing.assert_frame_equal(cold, expected)
    pd.testing.assert_frame_equal(warm, expected)
