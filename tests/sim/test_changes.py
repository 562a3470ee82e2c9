"""`what_changed`: a hand-built Q4 2025 with known pushes, pulls, wins, losses and amount,
category and probability changes gives exactly the expected waterfall."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from dealcast.crm.export_import import import_export
from dealcast.crm.schema import prediction
from dealcast.crm.stages import STANDARD_STAGES
from dealcast.crm.store import Store
from dealcast.sim.changes import BUCKETS, what_changed
from dealcast.sim.periods import parse_period
from tests.crm.export_builder import sfid, write_object

VP, MGR, R1, R2 = (sfid("005", n) for n in (1, 2, 3, 4))
ACCOUNT = sfid("001", 1)
D = {n: sfid("006", n) for n in range(1, 15)}
SINCE, UNTIL = "2025-11-01", "2025-11-08"
EARLY = "2025-09-01T10:00:00Z"

# Each deal: owner, then its states over time as (when, stage, amount, close date).
DEALS: dict[int, tuple[str, str, list[tuple[str, str, float, str]]]] = {
    1: ("Pushed", R1, [(EARLY, "Negotiation/Review", 100_000, "2025-12-15"),
                       ("2025-11-03T09:00:00Z", "Negotiation/Review", 80_000, "2026-01-31")]),
    2: ("Pulled", R1, [(EARLY, "Proposal/Price Quote", 50_000, "2026-02-15"),
                       ("2025-11-04T09:00:00Z", "Proposal/Price Quote", 50_000, "2025-12-20")]),
    3: ("Won", R1, [(EARLY, "Negotiation/Review", 40_000, "2025-11-30"),
                    ("2025-11-05T09:00:00Z", "Closed Won", 42_000, "2025-11-05")]),
    4: ("Lost", R2, [(EARLY, "Value Proposition", 30_000, "2025-12-01"),
                     ("2025-11-06T09:00:00Z", "Closed Lost", 30_000, "2025-11-06")]),
    5: ("Up", R2, [(EARLY, "Proposal/Price Quote", 20_000, "2025-12-10"),
                   ("2025-11-02T09:00:00Z", "Proposal/Price Quote", 25_000, "2025-12-10")]),
    6: ("Down", R2, [(EARLY, "Needs Analysis", 10_000, "2025-12-10"),
                     ("2025-11-02T10:00:00Z", "Needs Analysis", 6_000, "2025-12-10")]),
    7: ("Category", R1, [(EARLY, "Proposal/Price Quote", 60_000, "2025-12-12"),
                         ("2025-11-03T10:00:00Z", "Negotiation/Review", 60_000, "2025-12-12")]),
    8: ("New", R2, [("2025-11-07T10:00:00Z", "Prospecting", 15_000, "2025-12-31")]),
    9: ("Rescored", R1, [(EARLY, "Qualification", 5_000, "2025-10-31")]),
    10: ("Quiet", R2, [(EARLY, "Qualification", 8_000, "2025-12-05")]),
    11: ("Next year", R2, [(EARLY, "Qualification", 9_000, "2026-03-31")]),
    12: ("Booked earlier", R1, [(EARLY, "Negotiation/Review", 12_000, "2025-10-15"),
                                ("2025-10-15T09:00:00Z", "Closed Won", 12_000, "2025-10-15")]),
    13: ("Created and won", R2, [("2025-11-02T09:00:00Z", "Negotiation/Review", 7_000,
                                  "2025-11-30"),
                                 ("2025-11-07T09:00:00Z", "Closed Won", 7_000, "2025-11-07")]),
}  # fmt: skip
# Predictions: (deal, as_of, win_probability). Deal 9's arrives inside the window; deal 10's
# early one applies at both dates, its late one (after `until`) at neither.
PREDICTIONS = [
    (9, datetime(2025, 11, 2, 12), 40.0),
    (10, datetime(2025, 10, 1, 12), 10.0),
    (10, datetime(2025, 11, 20, 12), 90.0),
]
USERS = [
    {"Id": VP, "Name": "Vera VP", "IsActive": True},
    {"Id": MGR, "Name": "Max Manager", "ManagerId": VP, "IsActive": True},
    {"Id": R1, "Name": "Rita Rep", "ManagerId": MGR, "IsActive": True},
    {"Id": R2, "Name": "Ron Rep", "ManagerId": MGR, "IsActive": True},
]


def _stage_fields(stage: str) -> dict[str, Any]:
    s = STANDARD_STAGES.get(stage)
    return {
        "StageName": stage,
        "Probability": s.probability,
        "IsClosed": s.is_closed,
        "IsWon": s.is_won,
    }


def write_export(
    folder: Path,
    deals: dict[int, tuple[str, str, list[tuple[str, str, float, str]]]] = DEALS,
    users: list[dict[str, Any]] = USERS,
) -> Path:
    """An export with one account, `users`, and every deal's states as OpportunityHistory."""
    write_object(folder, "User", users)
    write_object(
        folder,
        "Account",
        [{"Id": ACCOUNT, "Name": "Acme", "OwnerId": R1, "CreatedDate": "2025-01-01T00:00:00Z"}],
    )
    opps, history = [], []
    for n, (name, owner, states) in deals.items():
        when, stage, amount, close = states[-1]
        fields = _stage_fields(stage)
        opps.append(
            {
                "Id": D[n],
                "Name": name,
                "AccountId": ACCOUNT,
                "OwnerId": owner,
                "Amount": amount,
                "CloseDate": close,
                "ForecastCategoryName": STANDARD_STAGES.get(stage).forecast_category,
                "CreatedDate": states[0][0],
                "LastModifiedDate": when,
                "IsDeleted": False,
                **fields,
            }
        )
        for i, (at, st, amt, cd) in enumerate(states):
            history.append(
                {
                    "Id": sfid("008", n * 100 + i),
                    "OpportunityId": D[n],
                    "StageName": st,
                    "Amount": amt,
                    "CloseDate": cd,
                    "Probability": STANDARD_STAGES.get(st).probability,
                    "ForecastCategory": STANDARD_STAGES.get(st).forecast_category,
                    "CreatedDate": at,
                }
            )
    write_object(folder, "Opportunity", opps)
    write_object(folder, "OpportunityHistory", history)
    return folder


def add_predictions(store: Store, rows: list[tuple[int, datetime, float]]) -> None:
    with store.engine.begin() as conn:
        for i, (n, as_of, p) in enumerate(rows):
            conn.execute(
                insert(prediction).values(
                    batch_id=f"b{i}",
                    opportunity_id=D[n],
                    as_of=as_of,
                    scored_at=as_of,
                    model_version="1.0.0",
                    win_probability=p,
                    confidence=0.5,
                    needs_review=False,
                    payload={},
                )
            )


def load(store: Store, tmp_path: Path, **kwargs: Any) -> Store:
    report = import_export(
        store, write_export(tmp_path / "export", **kwargs), actor="t", as_of=datetime(2025, 12, 1)
    )
    assert not store.quarantined(), store.quarantined()
    assert report is not None
    return store


def built_db(folder: Path, *, predictions: bool = True, **kwargs: Any) -> Path:
    """An SQLite file holding the hand-built org (closed: copy it, then `Store.open` it)."""
    path = folder / "org.db"
    store = Store.open(f"sqlite:///{path}")
    load(store, folder, **kwargs)
    if predictions:
        add_predictions(store, PREDICTIONS)
    store.close()
    return path


def copied(template: Path, folder: Path) -> str:
    """A private copy of a built database, as a URL."""
    target = folder / f"copy-{template.parent.name}.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """The hand-built org in an SQLite file, shared read-only by this module's tests."""
    store = Store.open(f"sqlite:///{built_db(tmp_path_factory.mktemp('changes'))}")
    yield store
    store.close()


def _ids(wf: Any, key: str) -> list[str]:
    return sorted(d["id"] for d in wf.bucket(key).deals)


def test_waterfall_buckets_and_totals_are_exactly_as_built(org: Store) -> None:
    wf = what_changed(org, "2025-Q4", SINCE, UNTIL)
    assert wf.reconciles()
    out = wf.as_dict()
    assert out["start"] == {
        "at": datetime(2025, 11, 1, 23, 59, 59, 999999),
        "deals": 8,
        "pipeline": 273_000.0,
        "closed_won": 12_000.0,
        "forecast": 216_300.0,
    }
    assert (out["end"]["deals"], out["end"]["pipeline"]) == (7, 169_000.0)
    assert (out["end"]["closed_won"], out["end"]["forecast"]) == (61_000.0, 176_750.0)
    expected = {  # bucket: (deals, pipeline change, forecast change)
        "won": ([D[3], D[13]], -40_000.0, 13_000.0),
        "lost": ([D[4]], -30_000.0, -15_000.0),
        "pushed_out": ([D[1]], -100_000.0, -90_000.0),
        "pulled_out": ([], 0.0, 0.0),
        "pulled_in": ([D[2]], 50_000.0, 37_500.0),
        "new": ([D[8]], 15_000.0, 1_500.0),
        "category": ([D[7]], 0.0, 9_000.0),
        "amount_up": ([D[5]], 5_000.0, 3_750.0),
        "amount_down": ([D[6]], -4_000.0, -800.0),
        "rescored": ([D[9]], 0.0, 1_500.0),
    }
    got = {
        b["bucket"]: (
            sorted(d["id"] for d in b["deals"]),
            b["pipeline_change"],
            b["forecast_change"],
        )
        for b in out["buckets"]
    }
    assert got == expected
    assert list(got) == list(BUCKETS)
    assert out["unchanged"] == 2  # the quiet deal and the deal booked before `since`
    pipe = out["start"]["pipeline"] + sum(b["pipeline_change"] for b in out["buckets"])
    assert pipe == out["end"]["pipeline"]


def test_a_deal_with_several_changes_lands_in_one_bucket_with_its_full_change(org: Store) -> None:
    wf = what_changed(org, "2025-Q4", SINCE, UNTIL)
    (pushed,) = wf.bucket("pushed_out").deals  # pushed AND cut from 100k to 80k
    assert pushed["name"] == "Pushed" and pushed["owner"] == "Rita Rep"
    assert pushed["before"]["amount"] == 100_000 and pushed["after"]["amount"] == 80_000
    assert pushed["before"]["close_period"] == "2025-Q4"
    assert pushed["after"]["close_period"] == "2026-Q1"
    assert pushed["before"]["in_period"] and not pushed["after"]["in_period"]
    all_ids = [d["id"] for b in wf.buckets for d in b.deals]
    assert len(all_ids) == len(set(all_ids)) == 10
    assert D[11] not in all_ids  # never in Q4
    (won,) = [d for d in wf.bucket("won").deals if d["id"] == D[3]]
    assert won["after"]["probability_source"] == "won" and won["after"]["expected"] == 42_000
    assert won["before"]["expected"] == 36_000  # 90% Salesforce probability x 40k


def test_probability_comes_from_the_latest_prediction_known_at_each_date(org: Store) -> None:
    wf = what_changed(org, "2025-Q4", SINCE, UNTIL)
    (rescored,) = wf.bucket("rescored").deals
    assert rescored["before"]["probability_source"] == "salesforce"
    assert rescored["before"]["probability"] == 10
    assert rescored["after"]["probability_source"] == "prediction"
    assert rescored["after"]["probability"] == 40
    # deal 10: the October prediction (10%) at both dates; the late 90% one is not known yet
    later = what_changed(org, "2025-Q4", UNTIL, "2025-11-25")
    (moved,) = later.bucket("rescored").deals
    assert moved["id"] == D[10] and moved["forecast_change"] == 6_400.0  # 8k x (0.9 - 0.1)
    assert later.reconciles()


def test_another_period_sees_the_other_side_of_the_moves(org: Store) -> None:
    q1 = what_changed(org, parse_period("2026-Q1"), SINCE, UNTIL)
    assert q1.reconciles()
    # the Q4 pull-in left Q1 for an earlier period; the Q4 push arrived in Q1
    assert _ids(q1, "pulled_out") == [D[2]]
    assert _ids(q1, "pulled_in") == [D[1]]
    assert q1.bucket("pulled_in").pipeline_cents == 8_000_000
    assert q1.start.pipeline_cents == (50_000 + 9_000) * 100
    assert q1.end.pipeline_cents == (80_000 + 9_000) * 100


def test_months_and_weeks_work_and_a_quiet_window_changes_nothing(org: Store) -> None:
    nov = what_changed(org, "2025-11", SINCE, UNTIL)
    assert nov.reconciles()
    assert _ids(nov, "won") == [D[3], D[13]]
    assert _ids(nov, "pulled_out") == []
    quiet = what_changed(org, "2025-Q4", "2025-09-10", "2025-09-20")
    assert quiet.reconciles()
    assert all(not b.deals for b in quiet.buckets)
    assert quiet.start.pipeline_cents == quiet.end.pipeline_cents


@pytest.mark.parametrize(
    ("period", "since", "until", "message"),
    [
        ("2025-Q5", SINCE, UNTIL, "YYYY-Qn"),
        ("2025-Q4", UNTIL, SINCE, "must be before"),
        ("2025-Q4", "yesterday", UNTIL, "not a date"),
    ],
)
def test_bad_input_is_rejected(
    org: Store, period: str, since: str, until: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        what_changed(org, period, since, until)
