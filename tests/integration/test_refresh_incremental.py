"""A sync drops only the materialised features its writes may have made wrong: afterwards
every open deal's features equal a full recompute, unchanged deals' rows survive, and
Account / Contact / User changes reach the deals and roll-ups they affect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
from sqlalchemy import select

from dealcast.crm.schema import deal_features, forecast_snapshot
from dealcast.crm.sfdc_emulator import Emulator
from dealcast.crm.sfdc_emulator.data import Deletion
from dealcast.crm.store import Store
from dealcast.ml.feature_store import FeatureStore, RefreshPolicy
from dealcast.refresh import refresh_after_sync
from tests.integration.sfdc_fixtures import emu, sfdc_export, synced_base, synced_copy, syncer

__all__ = ["emu", "sfdc_export", "synced_base"]  # fixtures


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _open(store: Store, at: datetime) -> list[str]:
    opps = store.as_of(at).open_opportunities()
    return sorted(opps.loc[opps["CloseDate"].notna(), "Id"])


def _stored(store: Store) -> set[tuple[str, datetime]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(deal_features.c.opportunity_id, deal_features.c.as_of))
        return {(str(r[0]), r[1]) for r in rows}


# stored rows are compared only at their own instant (the refresh policy would otherwise
# serve a row from a few seconds earlier, stale by design)
EXACT = RefreshPolicy(timedelta(microseconds=1), timedelta(microseconds=1))


def _assert_incremental_equals_full(store: Store, at: datetime) -> pd.DataFrame:
    ids = _open(store, at)
    incremental = FeatureStore(store, EXACT).features(at, ids).drop(columns=["FeaturesAsOf"])
    FeatureStore(store).invalidate()
    full = FeatureStore(store).features(at, ids).drop(columns=["FeaturesAsOf"])
    pd.testing.assert_frame_equal(incremental, full, check_dtype=False)
    return incremental


def _edit(emu: Emulator, obj: str, record_id: str, **values: Any) -> None:
    """A user's edit in Salesforce: the record replaced with the new values, stamped."""
    table = emu.data.tables[obj]
    stamp = datetime.now(UTC).replace(microsecond=0)
    with emu.data.lock:
        rec = {**table.records[record_id], **values, "SystemModstamp": stamp}
        if "LastModifiedDate" in table.kinds:
            rec["LastModifiedDate"] = stamp
        table.put(rec)


def _rippled(before: pd.DataFrame, after: pd.DataFrame, direct: set[str]) -> set[str]:
    """Deals not changed themselves whose features the sync changed anyway."""
    a = before.set_index("OpportunityId").drop(columns=["FeaturesAsOf", "AsOf"])
    b = after.set_index("OpportunityId").drop(columns=["AsOf"])
    common = sorted((set(a.index) & set(b.index)) - direct)
    a, b = a.loc[common], b.loc[common, a.columns]
    same = (a == b) | (a.isna() & b.isna())
    return set(same.index[~same.all(axis=1)])


def test_a_sync_keeps_exactly_the_features_it_cannot_have_changed(
    emu: Emulator, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "f.db")
    # features as of a moment before the changes below, and (late sync) one after them
    at = _now() - timedelta(seconds=5)
    before = FeatureStore(store).features(at, _open(store, at))
    assert len(before) >= 5
    change = emu.mutate(new_deals=2, stage_changes=4)
    late = _now() + timedelta(seconds=1)
    cached_late = FeatureStore(store, EXACT).features(late, _open(store, late))
    report = syncer(store, emu).run(as_of=_now())
    changed = set(report.changed_opportunities or [])
    assert set(change.stage_changed) | set(change.created) <= changed
    kept = {(o, t) for o, t in _stored(store)}
    # rows from before the changes survive for every deal not changed itself...
    assert {o for o, t in kept if t == at} == set(before["OpportunityId"]) - changed
    # ...but none from after them: the moves ended stage spells other deals are timed by
    assert not {o for o, t in kept if t == late}
    _assert_incremental_equals_full(store, at)
    after_late = _assert_incremental_equals_full(store, late)
    assert _rippled(cached_late, after_late, changed)  # the late rows were really stale

    # changes that rewrite the past: a recently closed deal changes hands, then is
    # deleted (its close never happened): its owners' and account's deals move
    for step in ("owner", "delete"):
        cached = FeatureStore(store).features(at, _open(store, at))
        opps = emu.data.tables["Opportunity"].records
        if step == "owner":
            closed = [r for r in opps.values() if r["IsClosed"] and not r["IsDeleted"]]
            deal = max(closed, key=lambda r: r["CloseDate"])
            others = {r["OwnerId"] for r in opps.values() if r["Id"] in set(_open(store, at))}
            target = sorted(others - {deal["OwnerId"]})[0]
            _edit(emu, "Opportunity", deal["Id"], OwnerId=target)
        else:
            closed = [r for r in opps.values() if r["IsClosed"] and not r["IsDeleted"]]
            deal = max(closed, key=lambda r: r["CloseDate"])
            _edit(emu, "Opportunity", deal["Id"], IsDeleted=True)
            emu.data.deletions["Opportunity"].append(Deletion(deal["Id"], datetime.now(UTC)))
        report = syncer(store, emu).run(as_of=_now())
        after = _assert_incremental_equals_full(store, at)
        assert _rippled(cached, after, {deal["Id"]}), step  # other deals really changed

    # contacts (email -> contact mapping) and accounts reach their deals
    FeatureStore(store).features(at, _open(store, at))
    role = next(iter(emu.data.tables["OpportunityContactRole"].records.values()))
    contact_id, deal_with_role = role["ContactId"], role["OpportunityId"]
    _edit(emu, "Contact", contact_id, Email="renamed.person@example.org")
    account_id = emu.data.tables["Opportunity"].records[_open(store, at)[0]]["AccountId"]
    _edit(emu, "Account", account_id, Industry="Changed Industry")
    report = syncer(store, emu).run(as_of=_now())
    changed = set(report.changed_opportunities or [])
    on_account = {
        i for i, r in emu.data.tables["Opportunity"].records.items() if r["AccountId"] == account_id
    }
    assert deal_with_role in changed and on_account <= changed
    assert not report.people_changed
    _assert_incremental_equals_full(store, at)


def test_account_contact_and_user_changes_trigger_the_refresh(
    emu: Emulator, synced_base: Path, tmp_path: Path
) -> None:
    store = synced_copy(synced_base, tmp_path / "t.db")
    first = _now()
    refresh_after_sync(
        store, SimpleNamespace(changed_opportunities=None), as_of=first, actor="t", n_sims=200
    )
    # a User change alone (a new manager): no deal to rescore, but the roll-ups move
    users = emu.data.tables["User"].records
    rep, boss = sorted(users)[-1], sorted(users)[0]
    _edit(emu, "User", rep, ManagerId=boss)
    report = syncer(store, emu).run(as_of=_now())
    assert report.changed_opportunities == [] and report.people_changed
    result = refresh_after_sync(store, report, as_of=_now(), actor="t", n_sims=200)
    assert result["rescored"] == 0 and "skipped" not in result
    run_id = result["forecasts"][0]["run_id"]
    with store.engine.connect() as conn:
        runs = set(conn.execute(select(forecast_snapshot.c.run_id)).scalars())
    assert run_id in runs

    # an Account change rescores the account's open deals
    open_now = set(_open(store, _now()))
    deal = sorted(open_now)[0]
    account_id = emu.data.tables["Opportunity"].records[deal]["AccountId"]
    _edit(emu, "Account", account_id, Industry="Another Industry")
    report = syncer(store, emu).run(as_of=_now())
    result = refresh_after_sync(store, report, as_of=_now(), actor="t", n_sims=200)
    on_account = {
        i for i, r in emu.data.tables["Opportunity"].records.items() if r["AccountId"] == account_id
    }
    assert set(report.changed_opportunities or []) == on_account
    assert result["rescored"] == len(on_account & open_now) >= 1
    assert not report.people_changed

    # a Contact change rescores the deals it is a contact role on
    roles = emu.data.tables["OpportunityContactRole"].records.values()
    role = next(r for r in roles if r["OpportunityId"] in open_now)
    _edit(emu, "Contact", role["ContactId"], Title="Chief Everything Officer")
    report = syncer(store, emu).run(as_of=_now())
    assert role["OpportunityId"] in set(report.changed_opportunities or [])
