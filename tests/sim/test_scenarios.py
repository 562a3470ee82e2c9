"""Scenarios end to end on the small demo org (rules scorer: no training needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dealcast.crm.stages import STANDARD_STAGES
from dealcast.crm.store import Store
from dealcast.sim.scenarios import list_scenarios, load_scenario, run_scenario, save_scenario
from dealcast.sim.snapshots import snapshots
from tests.demo_org import DemoOrg, copy_store


@pytest.fixture
def store(demo_org: DemoOrg, tmp_path: Path) -> Store:
    return copy_store(demo_org.store, tmp_path / "s.db")


def _crm(store: Store) -> dict[str, object]:
    return {k: v for k, v in store.fingerprint().items() if not k.startswith("audit")}


def _biggest_open_deal(store: Store, demo_org: DemoOrg) -> tuple[str, str]:
    deals = store.as_of(demo_org.as_of).open_opportunities()
    deals = deals[deals["CloseDate"].dt.strftime("%Y-%m") == "2026-07"].dropna(subset=["Amount"])
    top = deals.sort_values("Amount").iloc[-1]
    return str(top["Id"]), str(top["Name"])


def test_slipping_a_deal_moves_its_money_to_the_next_period(
    store: Store, demo_org: DemoOrg
) -> None:
    deal, name = _biggest_open_deal(store, demo_org)
    crm_before = _crm(store)
    changes = [{"op": "move", "deal": deal, "close_date": "2026-10-15"}]
    result = run_scenario(
        store, demo_org.as_of, changes, "quarter", 3, 3, STANDARD_STAGES, name="slip", n_sims=2000
    )
    q3, q4 = result["deltas"][1:]
    assert q3["period"] == "2026-Q3" and q3["expected"] < 0 < q4["expected"]
    assert q3["closed_won"] == 0  # what is booked is booked
    (driver,) = [d for d in result["drivers"] if d["deal_id"] == deal]
    assert driver["name"] == name and driver["change"] == "changed"
    assert driver["expected_delta"]["2026-Q3"] == pytest.approx(q3["expected"])
    assert _crm(store) == crm_before  # CRM data untouched
    # the scenario is stored under its name and kept out of the baseline history
    assert set(snapshots(store)["scenario"].isna()) == {True}
    assert set(snapshots(store, include_scenarios=True)["scenario"].dropna()) == {"slip"}
    assert [e.action for e in store.audit_entries()][:2] == ["scenario_forecast", "forecast"]


def test_scenarios_are_saved_replaced_and_audited(store: Store) -> None:
    save_scenario(store, "q3-push", [{"op": "exclude_category", "category": "Pipeline"}])
    save_scenario(store, "q3-push", [{"op": "exclude_owner", "owner": "x"}], actor="ann")
    assert load_scenario(store, "q3-push") == [{"op": "exclude_owner", "owner": "x"}]
    assert [s["name"] for s in list_scenarios(store)] == ["q3-push"]
    assert len(store.audit_entries(action="scenario_saved")) == 2
    with pytest.raises(ValueError, match="no saved scenario 'nope'; saved: q3-push"):
        load_scenario(store, "nope")


def test_an_invalid_change_stores_nothing(store: Store, demo_org: DemoOrg) -> None:
    with pytest.raises(ValueError, match="no open deal"):
        run_scenario(
            store,
            demo_org.as_of,
            [{"op": "remove", "deal": "006NOPE"}],
            "month",
            1,
            1,
            STANDARD_STAGES,
            n_sims=200,
        )
    assert snapshots(store, include_scenarios=True).empty
