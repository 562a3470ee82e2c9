"""The latest stored score per deal, as of T, of one model version."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dealcast.crm.schema import prediction
from dealcast.crm.store import Store
from dealcast.sim.stored_scores import latest_probabilities


def test_stored_scores_take_the_latest_as_of_of_the_given_version(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 's.db'}")
    t1, t2, t3 = datetime(2026, 1, 1), datetime(2026, 2, 1), datetime(2026, 3, 1)
    rows = [
        ("006A", t2, "1.0.0", 40.0),
        ("006A", t1, "1.0.0", 10.0),  # inserted later, but older as of
        ("006A", t3, "1.0.0", 90.0),  # after T
        ("006A", t2, "rules", 70.0),  # another version
        ("006B", t1, "1.0.0", 20.0),
        ("006B", t1, "1.0.0", 25.0),  # same as of: the later insert wins
        ("006C", t1, "rules", 50.0),
    ]
    with store.engine.begin() as conn:
        conn.execute(
            prediction.insert(),
            [
                {
                    "batch_id": "b",
                    "opportunity_id": i,
                    "as_of": a,
                    "scored_at": a,
                    "model_version": v,
                    "win_probability": p,
                    "confidence": 50.0,
                    "needs_review": False,
                    "payload": {},
                }
                for i, a, v, p in rows
            ],
        )
    t = datetime(2026, 2, 15)
    assert latest_probabilities(store, t, "1.0.0") == {"006A": 0.4, "006B": 0.25}
    assert latest_probabilities(store, t, "rules") == {"006A": 0.7, "006C": 0.5}
    assert latest_probabilities(store, t, "1.0.0", ["006B", "006C"]) == {"006B": 0.25}
    assert latest_probabilities(store, t, "1.0.0", []) == {}
