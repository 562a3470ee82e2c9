"""Not-yet-created pipeline: learned from past windows at the same lead time, PIT only."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from dealcast.sim.engine import run_forecast
from dealcast.sim.new_pipeline import fit_new_pipeline
from dealcast.sim.periods import periods_from
from tests.sim.test_engine import inputs

AS_OF = datetime(2025, 11, 10, 12, 0)


def won(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "CreatedDate": pd.to_datetime([r[0] for r in rows]),
            "ClosedAt": pd.to_datetime([r[1] for r in rows]),
            "Amount": [r[2] for r in rows],
        }
    )


def test_windows_count_deals_created_after_the_shifted_as_of_and_won_inside() -> None:
    history = won(
        [
            ("2025-10-12", "2025-10-20", 100.0),  # window k=1 (Oct): created after Oct 10
            ("2025-10-01", "2025-10-20", 999.0),  # created before Oct 10: existing pipeline
            ("2025-09-11", "2025-09-25", 300.0),  # k=2 (Sep)
            ("2025-08-15", "2025-08-20", 50.0),  # k=3 (Aug)
            ("2025-08-15", "2025-09-02", 70.0),  # won after the Aug window ended: none
        ]
    )
    (nov,) = periods_from(AS_OF, "month", 1)
    fitted = fit_new_pipeline(history, AS_OF, [nov], lookback=3)
    assert sorted(fitted.samples[0]) == [50.0, 100.0, 300.0]
    assert fitted.expected()[0] == pytest.approx(150.0)
    draws = fitted.draw(1000, seed=1)
    assert set(np.unique(draws)) == {50.0, 100.0, 300.0}
    assert np.array_equal(draws, fitted.draw(1000, seed=1))


def test_windows_not_over_by_t_and_later_data_are_never_used() -> None:
    history = won([("2025-11-10", "2025-11-20", 1e6)] + [("2025-10-12", "2025-10-20", 10.0)] * 2)
    periods = periods_from(AS_OF, "month", 2)
    fitted = fit_new_pipeline(history, AS_OF, periods, lookback=2)
    # December's k=1 window is November, not over at T: only k=2 (October -> Nov window)
    assert len(fitted.samples[1]) == 0  # 1 window < MIN_WINDOWS: no component
    assert fitted.expected()[0] == 0.0  # fewer than 3 windows too
    later = won([("2025-10-12", "2025-10-20", 10.0)] * 2)
    assert fit_new_pipeline(later, AS_OF, periods, lookback=2).expected().tolist() == [0.0, 0.0]


def test_the_component_is_added_to_expected_and_the_interval_not_to_rollups() -> None:
    base = inputs()
    history = won([(f"2025-{m:02d}-11", f"2025-{m:02d}-20", 10_000.0 * m) for m in range(3, 11)])
    inp = replace(base, won=pd.concat([base.won, history.assign(OwnerId="rep1")]))
    periods = periods_from(AS_OF, "month", 1)
    plain = run_forecast(inp, periods, seed=5, n_sims=2000)[0]
    with_new = run_forecast(inp, periods, seed=5, n_sims=2000, new_pipeline=True)[0]
    component = with_new["new_pipeline"]
    assert component["windows"] == 8 and component["in_interval"]
    assert component["expected"] == pytest.approx(np.mean([10_000.0 * m for m in range(3, 11)]))
    assert with_new["expected"] == pytest.approx(plain["expected"] + component["expected"])
    assert with_new["p90"] > plain["p90"] and plain["new_pipeline"] is None
    owners = sum(o["expected"] for o in with_new["by_owner"])
    assert owners == pytest.approx(with_new["expected"] - component["expected"])
