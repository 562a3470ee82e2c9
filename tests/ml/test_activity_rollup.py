"""Features at the horizon from activities summed in SQL (`activity_rollup`) equal the
features from every row, cold (no stored flags: every row its own group, its text read) and
warm (summed); an edited old text is read again; other times are refused."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from dealcast.crm.export_import import import_export
from dealcast.crm.schema import activity_signal
from dealcast.crm.store import Store
from dealcast.ml import activity_signals
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.features import compute
from tests.crm.export_builder import C2, O1, U2, minimal_export, sfid
from tests.crm.pit_suite import _append
from tests.demo_org import DemoOrg, copy_store
from tests.ml.test_activity_signals import PRICING, _export_with


@pytest.fixture
def store(demo_org: DemoOrg, tmp_path: Path) -> Store:
    """The demo org with no flags stored by activity row (as before any scoring)."""
    copy = copy_store(demo_org.store, tmp_path / "rollup.db")
    with copy.engine.begin() as conn:
        conn.execute(activity_signal.delete())
    return copy


def _exact(store: Store, t: datetime, ids: list[str]) -> pd.DataFrame:
    """From every activity row of these deals (the same org context as the sums, so only the
    activities differ; the org-wide path equals it on the hour: test_org_context)."""
    inputs = FeatureInputs.load(store, t, ids)
    return compute(inputs, pd.DataFrame({"OpportunityId": ids, "AsOf": t}))


def _summed(store: Store, t: datetime, ids: list[str]) -> tuple[pd.DataFrame, FeatureInputs]:
    inputs = FeatureInputs.load(store, t, ids, horizon_only=True)
    return compute(inputs, pd.DataFrame({"OpportunityId": ids, "AsOf": t})), inputs


def _ids(store: Store, t: datetime, n: int = 150) -> list[str]:
    return sorted(store.as_of(t).open_opportunities()["Id"])[:n]


@pytest.mark.parametrize("when", ["end", "mid-history"])
def test_summed_activities_give_the_exact_features(
    store: Store, demo_org: DemoOrg, when: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = demo_org.as_of if when == "end" else datetime(2026, 3, 17, 10, 20)
    ids = _ids(store, t)
    detected: list[int] = []
    real = activity_signals.cached_signals
    monkeypatch.setattr(
        activity_signals,
        "cached_signals",
        lambda engine, ids, *a, **k: detected.append(len(ids)) or real(engine, ids, *a, **k),
    )
    cold, cold_inputs = _summed(store, t, ids)  # nothing stored yet: every text read
    assert cold_inputs.activity_summary is not None and cold_inputs.activities.empty
    cold_detections = len(detected)
    assert sum(detected) > 1000
    exact = _exact(store, t, ids)
    warm, warm_inputs = _summed(store, t, ids)  # every flag found with its row in SQL
    assert len(detected) == cold_detections  # nothing detected again
    summary = warm_inputs.activity_summary
    assert summary is not None
    assert (summary.deals[["pricing", "competitor"]].sum() > 0).all()
    assert summary.contacts["InWindow"].any() and summary.contacts["ContactId"].notna().any()
    for name in ("engaged_contacts_count", "champion_engagement_score", "activity_count_30d"):
        assert exact[name].gt(0).any()  # the comparison covers non-trivial values
    pd.testing.assert_frame_equal(cold, exact)
    pd.testing.assert_frame_equal(warm, exact)


def test_an_edited_old_text_is_read_again(store: Store, demo_org: DemoOrg, tmp_path: Path) -> None:
    t = demo_org.as_of
    ids = _ids(store, t, 60)
    _summed(store, t, ids)  # every row's flags stored: old rows are summed from now on
    before, _ = _summed(store, t, ids)
    snap = store.as_of(t, ids)
    emails = snap.emails()
    old = emails[(emails["MessageDate"] < t - timedelta(days=90)) & ~emails["Incoming"]]
    text = old["Subject"].fillna("") + " " + old["TextBody"].fillna("")
    quiet = old[~text.str.contains("pric|discount|cost|budget", case=False)]
    target = quiet.iloc[0]

    def edit(rows: list[dict[str, str]]) -> None:
        for row in rows:
            if row["Id"] == target["Id"]:
                row["TextBody"] = PRICING  # keeps the id, the dates and the subject

    folder = _export_with(demo_org, tmp_path / "x", "EmailMessage", edit)
    import_export(store, folder, actor="t", as_of=t)
    after, _ = _summed(store, t, ids)
    pd.testing.assert_frame_equal(after, _exact(store, t, ids))
    row = after["OpportunityId"] == target["RelatedToId"]
    assert (
        after.loc[row, "pricing_discussions"] == before.loc[row, "pricing_discussions"] + 1
    ).all()


def test_summed_inputs_refuse_other_times(store: Store, demo_org: DemoOrg) -> None:
    t = demo_org.as_of
    ids = _ids(store, t, 20)
    inputs = FeatureInputs.load(store, t, ids, horizon_only=True)
    assert len(compute(inputs, pd.DataFrame({"OpportunityId": ids, "AsOf": t}))) == 20
    earlier = pd.DataFrame({"OpportunityId": ids, "AsOf": t - timedelta(minutes=1)})
    with pytest.raises(ValueError, match="without horizon_only"):
        compute(inputs, earlier)


def test_ties_with_the_window_bounds_count_as_row_by_row(tmp_path: Path) -> None:
    """Date-only activity dates (midnight) exactly at the window start are outside it, at the
    horizon inside it, in the sums as in the exact path (SQLite compares the ISO text)."""
    folder = minimal_export(tmp_path / "exp")
    task = {"OwnerId": U2, "Status": "Completed", "TaskSubtype": "Call", "WhoId": C2}
    _append(
        folder / "Task.csv",
        [
            {
                **task,
                "Id": sfid("00T", 50),
                "WhatId": O1,
                "Subject": "Call",
                "Description": "",
                "ActivityDate": "2025-05-02",
                "CreatedDate": "2025-04-20T10:00:00Z",
            },
            {
                **task,
                "Id": sfid("00T", 51),
                "WhatId": O1,
                "Subject": "Call",
                "Description": "",
                "ActivityDate": "2025-06-01",
                "CreatedDate": "2025-05-20T10:00:00Z",
            },
        ],
    )
    store = Store.open(f"sqlite:///{tmp_path / 'ties.db'}")
    import_export(store, folder, actor="t", as_of=datetime(2025, 7, 1))
    midnight = datetime(2025, 6, 1)
    for t in (midnight - timedelta(seconds=1), midnight, midnight + timedelta(seconds=1)):
        exact = _exact(store, t, [O1])
        for _ in ("cold", "warm"):
            summed, _ = _summed(store, t, [O1])
            pd.testing.assert_frame_equal(summed, exact)
        if t == midnight:
            assert exact["activity_count_30d"].iloc[0] == 1  # 06-01 in, 05-02 out
