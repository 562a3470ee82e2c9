"""A mapped CRM field (Budget_Confirmed__c -> budget_confirmed) sets the feature from the
instant its value was known, never earlier (no leakage), OR-ed with the text signal."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from dealcast.crm.export_import import import_export
from dealcast.crm.schema import crm_custom_value
from dealcast.crm.store import Store
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.features import compute
from tests.crm.export_builder import O1, O2, minimal_export

TIMES = ["2025-03-01", "2025-03-10", "2025-04-01", "2025-05-01"]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(f"sqlite:///{tmp_path / 'f.db'}")
    import_export(s, minimal_export(tmp_path / "exp"), actor="t", as_of=datetime(2025, 7, 1))
    return s


def _budget(
    store: Store, horizon: str, deal: str = O1, ids: list[str] | None = None
) -> list[float]:
    inputs = FeatureInputs.load(store, datetime.fromisoformat(horizon), ids)
    times = [t for t in TIMES if t <= horizon]
    frame = compute(inputs, pd.DataFrame({"OpportunityId": deal, "AsOf": times}))
    return frame["budget_confirmed"].tolist()


def _crm(
    store: Store, deal: str, value: str, known: str, feature: str = "budget_confirmed"
) -> None:
    with store.engine.begin() as conn:
        conn.execute(
            crm_custom_value.insert().values(
                object="Opportunity",
                record_id=deal,
                feature=feature,
                value=value,
                known_from=datetime.fromisoformat(known),
                import_id=1,
            )
        )


def test_crm_value_counts_from_when_it_was_known(store: Store) -> None:
    assert _budget(store, "2025-07-01", O2) == [0, 0, 0, 0]  # no text signal on O2
    _crm(store, O2, "true", "2025-03-10T00:00:00")
    _crm(store, O2, "false", "2025-04-15T00:00:00")
    # known at 03-10 (inclusive), withdrawn at 04-15
    assert _budget(store, "2025-07-01", O2) == [0, 1, 1, 0]
    # the same through the few-deals path (scoring, the feature store)
    assert _budget(store, "2025-07-01", O2, ids=[O2]) == [0, 1, 1, 0]
    # another feature name, or another deal's value, changes nothing
    _crm(store, O1, "true", "2025-01-01T00:00:00", feature="budget_confirmed_old")
    assert _budget(store, "2025-07-01", O1)[0] == 0


def test_value_first_seen_after_t_does_not_leak(store: Store) -> None:
    before = _budget(store, "2025-04-01", O2)
    _crm(store, O2, "true", "2025-04-02T00:00:00")
    assert _budget(store, "2025-04-01", O2) == before == [0, 0, 0]  # horizon before it
    assert _budget(store, "2025-07-01", O2)[:3] == before  # loaded, but later than t
    assert _budget(store, "2025-07-01", O2)[3] == 1


def test_text_signal_still_counts_when_crm_says_false(store: Store) -> None:
    _crm(store, O1, "false", "2025-02-01T00:00:00")
    inputs = FeatureInputs.load(store, datetime(2025, 7, 1))
    acts = inputs.activities
    first = acts[acts["OpportunityId"] == O1].sort_values("Known").index[0]
    acts.loc[first, "budget_confirmed"] = True  # the text says so from this activity on
    known = acts.loc[first, "Known"]
    frame = compute(inputs, pd.DataFrame({"OpportunityId": O1, "AsOf": [known]}))
    assert frame["budget_confirmed"].tolist() == [1.0]
