"""Accuracy by rep and manager from stored calls and snapshots against won bookings."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from dealcast.crm.store import Store
from dealcast.sim.rep_accuracy import accuracy, pattern, points
from dealcast.sim.submissions import override, submit
from tests.sim.test_changes import MGR, R1, R2, load
from tests.sim.test_forecast_history import insert_snapshot

AS_OF = datetime(2025, 10, 15)
MONTHS = ["2025-06", "2025-07", "2025-08", "2025-09"]
# won bookings per rep per month (ClosedAt on the 20th)
WON: dict[str, list[float]] = {R1: [100, 100, 100, 100], R2: [50, 80, 0, 60]}
COMMIT: dict[str, list[float | None]] = {
    R1: [80, 90, 70, 120],
    R2: [60, 90, None, 70],
    MGR: [150, 170, None, 150],
}


def _deals() -> dict[int, tuple[str, str, list[tuple[str, str, float, str]]]]:
    deals: dict[int, tuple[str, str, list[tuple[str, str, float, str]]]] = {}
    n = 1
    for owner, amounts in WON.items():
        for month, amount in zip(MONTHS, amounts, strict=True):
            if amount:
                close = f"{month}-20"
                deals[n] = (
                    f"Deal {n}",
                    owner,
                    [
                        ("2025-05-01T09:00:00Z", "Negotiation/Review", amount, close),
                        (f"{close}T15:00:00Z", "Closed Won", amount, close),
                    ],
                )
                n += 1
    return deals


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    tmp = tmp_path_factory.mktemp("accuracy")
    store = Store.open(f"sqlite:///{tmp / 'acc.db'}")
    load(store, tmp, deals=_deals())
    for i, month in enumerate(MONTHS):
        snap_at = datetime.fromisoformat(f"{month}-02T08:00:00")
        insert_snapshot(
            store, month, snap_at, 200.0, by_owner={R1: 95.0, R2: 55.0}, by_manager={MGR: 150.0}
        )
        # a later snapshot, after the calls: never the AI number beside them
        insert_snapshot(
            store,
            month,
            datetime.fromisoformat(f"{month}-10T08:00:00"),
            1.0,
            by_owner={R1: 1.0, R2: 1.0},
            by_manager={MGR: 1.0},
        )
        call_at = datetime.fromisoformat(f"{month}-03T09:00:00")
        for owner, amounts in COMMIT.items():
            amount = amounts[i]
            if amount is not None:
                submit(store, month, "Commit", owner, amount, "call", owner, at=call_at)
        submit(store, month, "Best Case", R1, 500, "upside", R1, at=call_at)  # not Commit
    override(store, "2025-08", "Commit", R1, 100, "I know better", MGR, at=datetime(2025, 8, 5))
    # made after June ended: not the June call
    submit(store, "2025-06", "Commit", R1, 999, "late", R1, at=datetime(2025, 7, 5))
    # October has not ended at AS_OF
    submit(store, "2025-10", "Commit", R1, 5, "open period", R1, at=datetime(2025, 10, 2))
    yield store
    store.close()


def test_each_rep_accuracy_bias_and_pattern(org: Store) -> None:
    out = accuracy(org, AS_OF)
    assert out["periods"] == MONTHS
    reps = {r["owner_id"]: r for r in out["reps"]}
    rita = reps[R1]
    assert (rita["name"], rita["role"], rita["periods"]) == ("Rita Rep", "rep", 4)
    assert (rita["forecast"], rita["actual"]) == (360, 400)
    assert rita["accuracy"] == pytest.approx(0.9) and rita["bias"] == pytest.approx(-0.1)
    assert rita["wape"] == pytest.approx(80 / 400)
    assert (rita["under_calls"], rita["over_calls"]) == (3, 1)
    assert rita["pattern"] == "sandbagging" and rita["sandbagging"] is True
    assert rita["final"]["forecast"] == 390  # the August override replaced 70 by 100
    assert rita["ai"]["forecast"] == 380 and rita["ai"]["accuracy"] == pytest.approx(0.95)
    ron = reps[R2]
    assert (ron["periods"], ron["forecast"], ron["actual"]) == (3, 220, 190)
    assert ron["pattern"] == "over-calling" and ron["sandbagging"] is False
    assert ron["bias"] == pytest.approx(30 / 190)


def test_a_manager_is_judged_on_the_whole_team(org: Store) -> None:
    (mgr,) = accuracy(org, AS_OF)["managers"]
    assert (mgr["owner_id"], mgr["role"], mgr["team_size"]) == (MGR, "manager", 2)
    assert (mgr["periods"], mgr["forecast"], mgr["actual"]) == (3, 470, 490)
    assert (mgr["under_calls"], mgr["over_calls"], mgr["pattern"]) == (2, 0, "balanced")
    assert mgr["ai"]["forecast"] == 450  # by_manager of the snapshot before each call


def test_ai_and_humans_are_scored_on_the_same_rep_points(org: Store) -> None:
    out = accuracy(org, AS_OF)
    assert (out["ai"]["periods"], out["ai"]["forecast"], out["ai"]["actual"]) == (7, 545, 590)
    assert (out["human"]["forecast"], out["human"]["actual"]) == (580, 590)
    assert out["human"]["wape"] == pytest.approx((20 + 10 + 30 + 20 + 10 + 10 + 10) / 590)
    june = [p for p in points(org, AS_OF) if p.period == "2025-06" and p.owner_id == R1]
    assert june[0].call == 80 and june[0].ai_as_of == datetime(2025, 6, 2, 8)


def test_only_ended_periods_and_the_chosen_kind_count(org: Store) -> None:
    assert accuracy(org, datetime(2025, 8, 31, 12))["periods"] == ["2025-06", "2025-07"]
    assert accuracy(org, AS_OF, period_kind="quarter")["reps"] == []
    with pytest.raises(ValueError, match="week, month, quarter"):
        accuracy(org, AS_OF, period_kind="year")


@pytest.mark.parametrize(
    ("under", "over", "n", "expected"),
    [
        (3, 1, 4, "sandbagging"),
        (3, 0, 3, "sandbagging"),
        (2, 1, 3, "balanced"),
        (5, 2, 7, "balanced"),  # 71% < 75%
        (6, 2, 8, "sandbagging"),  # exactly 75%
        (2, 0, 2, "insufficient history"),
        (1, 3, 4, "over-calling"),
    ],
)
def test_the_sandbagging_rule(under: int, over: int, n: int, expected: str) -> None:
    assert pattern(under, over, n) == expected


def test_no_calls_means_an_empty_report(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'empty.db'}")
    load(store, tmp_path, deals={})
    out = accuracy(store, AS_OF)
    assert out["reps"] == out["managers"] == out["points"] == []
    assert out["ai"]["accuracy"] is None
    store.close()
