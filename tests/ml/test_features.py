from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.features import FEATURE_NAMES, compute
from tests.crm.export_builder import O1, minimal_export
from tests.demo_org import DemoOrg


@pytest.fixture
def minimal(store: Store, tmp_path: Path) -> Store:
    import_export(store, minimal_export(tmp_path / "exp"), actor="t", as_of=datetime(2025, 7, 1))
    return store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path / 'f.db'}")


def _features(store: Store, horizon: str, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    inputs = FeatureInputs.load(store, datetime.fromisoformat(horizon))
    frame = pd.DataFrame(pairs, columns=["OpportunityId", "AsOf"])
    return compute(inputs, frame).set_index(["OpportunityId", "AsOf"])


def test_hand_built_deal_features(minimal: Store) -> None:
    f = _features(minimal, "2025-07-01", [(O1, "2025-03-01"), (O1, "2025-06-01")])
    march, june = f.iloc[0], f.iloc[1]
    assert march["StageName"] == "Proposal/Price Quote"
    assert march["deal_age_days"] == pytest.approx(49.5)
    assert march["stage_duration_days"] == pytest.approx(8.5)
    assert march["activity_count_30d"] == 3  # call 02-15, emails 02-21 and 02-24
    assert march["email_response_rate"] == 1.0
    assert march["pricing_discussions"] == 1  # "they want 10% off"
    assert march["decision_maker_engaged"] == 1  # economic buyer role from 02-10
    assert march["engaged_contacts_count"] == 1
    assert march["days_since_last_inbound"] == pytest.approx(4.625)
    assert march["days_to_close"] == 30 and march["close_date_slips"] == 0
    assert june["close_date_slips"] == 1 and june["days_pushed"] == 91
    assert june["amount_change_pct"] == pytest.approx(-0.1)
    assert june["account_health_score"] == pytest.approx(0.4)  # O2 won on 03-15
    assert june["owner_win_rate"] == pytest.approx(3 / 9)
    assert june["activity_count_30d"] == 0
    assert march["contract_review_started"] == 0  # the security task is dated 06-10


def test_unknown_deal_or_future_time_is_an_error(minimal: Store) -> None:
    inputs = FeatureInputs.load(minimal, datetime(2025, 4, 1))
    with pytest.raises(ValueError, match="horizon"):
        compute(inputs, pd.DataFrame({"OpportunityId": [O1], "AsOf": ["2025-05-01"]}))
    with pytest.raises(ValueError, match="no opportunity"):
        compute(
            inputs, pd.DataFrame({"OpportunityId": ["006000000000999AAA"], "AsOf": ["2025-03-01"]})
        )


def test_features_at_t_ignore_everything_known_later(demo_org: DemoOrg) -> None:
    """Loading at a later horizon (more data exists) must not change features at T."""
    store = demo_org.store
    t = datetime(2025, 12, 31, 23, 59, 59)
    open_at_t = store.as_of(t).open_opportunities()["Id"]
    pairs = pd.DataFrame({"OpportunityId": open_at_t, "AsOf": t})
    early = compute(FeatureInputs.load(store, t), pairs)
    late = compute(FeatureInputs.load(store, demo_org.as_of), pairs)
    assert len(early) > 100
    pd.testing.assert_frame_equal(early, late)


def test_feature_matrix_is_complete_and_typed(demo_org: DemoOrg) -> None:
    store = demo_org.store
    ids = store.as_of(demo_org.as_of).open_opportunities()["Id"]
    feats = compute(
        FeatureInputs.load(store, demo_org.as_of),
        pd.DataFrame({"OpportunityId": ids, "AsOf": demo_org.as_of}),
    )
    assert list(feats.columns[-len(FEATURE_NAMES) :]) == list(FEATURE_NAMES)
    values = feats[list(FEATURE_NAMES)].to_numpy(float)
    assert np.isfinite(values[~np.isnan(values)]).all()
    # the core state features are known for every open deal
    assert feats[["deal_age_days", "stage_index", "days_to_close"]].notna().all().all()


def test_a_contact_named_price_is_not_a_pricing_discussion(store: Store, tmp_path: Path) -> None:
    from tests.crm.export_builder import A1, sfid
    from tests.crm.pit_suite import _append

    folder = minimal_export(tmp_path / "exp")
    _append(
        folder / "Contact.csv",
        [
            {
                "Id": sfid("003", 40),
                "AccountId": A1,
                "FirstName": "Pat",
                "LastName": "Price",
                "Email": "pat.price@acme.example",
                "CreatedDate": "2025-01-05T09:00:00Z",
            }
        ],
    )
    _append(
        folder / "EmailMessage.csv",
        [
            {
                "Id": sfid("02s", 40),
                "RelatedToId": O1,
                "Subject": "Notes from Pat Price",
                "TextBody": "Happy to help with the rollout.\n-- Pat Price, IT",
                "FromAddress": "pat.price@acme.example",
                "ToAddress": "rob@example.com",
                "MessageDate": "2025-02-26T09:00:00Z",
                "Incoming": True,
                "CreatedDate": "2025-02-26T09:00:00Z",
            }
        ],
    )
    import_export(store, folder, actor="t", as_of=datetime(2025, 7, 1))
    f = _features(store, "2025-07-01", [(O1, "2025-03-01")])
    assert f.iloc[0]["pricing_discussions"] == 1  # only the "10% off" call, not Pat Price
