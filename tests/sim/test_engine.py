"""run_forecast on hand-built inputs: roll-ups add up, teams follow the hierarchy, quotas."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest

from dealcast.sim import engine
from dealcast.sim.engine import run_forecast
from dealcast.sim.expectation import expected_matrix
from dealcast.sim.inputs import PipelineInputs
from dealcast.sim.montecarlo import Correlation, simulate
from dealcast.sim.periods import periods_from
from dealcast.sim.timing import AmountRatio, TimingModel

AS_OF = datetime(2025, 11, 10, 12, 0)
# boss <- mgr <- (rep1, rep2); rep3 reports to boss directly
USERS = pd.DataFrame(
    {
        "Id": ["boss", "mgr", "rep1", "rep2", "rep3"],
        "Name": ["Bo", "Mo", "R1", "R2", "R3"],
        "ManagerId": [None, "boss", "mgr", "mgr", "boss"],
    }
)


def inputs(n: int = 60, correlation: Correlation | None = None, seed: int = 0) -> PipelineInputs:
    rng = np.random.default_rng(seed)
    deals = pd.DataFrame(
        {
            "Id": [f"d{i}" for i in range(n)],
            "Name": [f"Deal {i}" for i in range(n)],
            "AccountId": "a",
            "OwnerId": rng.choice(["rep1", "rep2", "rep3", "mgr"], n),
            "StageName": "Negotiation",
            "ForecastCategoryName": rng.choice(["Commit", "Best Case", "Pipeline"], n),
            "Amount": rng.integers(1, 20, n) * 1000.0,
            "CloseDate": pd.Timestamp("2025-11-01") + pd.to_timedelta(rng.integers(0, 150, n), "D"),
            "Probability": 50.0,
            "CreatedDate": pd.Timestamp("2025-06-01"),
            "p": rng.uniform(0.05, 0.95, n),
            "SlipCount": 0,
            "bucket": 0,
        }
    )
    won = pd.DataFrame(
        {
            "Id": ["w1", "w2", "w3"],
            "Name": ["W1", "W2", "W3"],
            "OwnerId": ["rep1", "rep3", "rep2"],
            "Amount": [5000.0, 7000.0, 1000.0],
            "ClosedAt": pd.to_datetime(
                ["2025-11-03 10:00", "2025-11-09 23:00", "2025-10-30 09:00"]
            ),
        }
    )
    timing = TimingModel.fit(
        np.array(["Negotiation"] * 40),
        np.zeros(40, int),
        np.array(["2025-01-01"] * 40, dtype="datetime64[D]"),
        np.datetime64("2025-01-01") + np.arange(-10, 30),
    )
    ratio = AmountRatio.fit(np.full(40, 100.0), np.linspace(80, 120, 40))
    return PipelineInputs(AS_OF, deals, won, USERS, timing, ratio, correlation, "1.0.0")


def run(inp: PipelineInputs, **kw: Any) -> list[dict[str, Any]]:
    periods = periods_from(AS_OF, "month", 3)
    return run_forecast(inp, periods, seed=5, n_sims=kw.pop("n_sims", 4000), **kw)


def test_rollups_add_up_to_the_total() -> None:
    rows = run(inputs())
    first = rows[0]
    assert first["closed_won"] == 12000.0  # w1 + w2 in November; w3 was October
    assert sum(o["expected"] for o in first["by_owner"]) == pytest.approx(first["expected"])
    assert sum(o["closed_won"] for o in first["by_owner"]) == first["closed_won"]
    cats = first["by_category"]
    assert cats["Closed"] == {"deals": 2, "amount": 12000.0}
    open_expected = sum(cats[c]["expected"] for c in ("Commit", "Best Case", "Pipeline"))
    assert open_expected == pytest.approx(first["expected"] - first["closed_won"])
    for row in rows:
        assert row["p10"] <= row["p50"] <= row["p90"]
        assert row["closed_won"] <= row["p10"]
    # the top of the hierarchy is everyone
    boss = next(m for m in first["by_manager"] if m["manager_id"] == "boss")
    assert boss["team_size"] == 5 and boss["expected"] == pytest.approx(first["expected"])


def test_a_managers_team_is_everyone_below_them_and_themselves() -> None:
    first = run(inputs())[0]
    owners = {o["owner_id"]: o for o in first["by_owner"]}
    mgr = next(m for m in first["by_manager"] if m["manager_id"] == "mgr")
    team = ("rep1", "rep2", "mgr")
    assert mgr["team_size"] == 3
    assert mgr["expected"] == pytest.approx(sum(owners[o]["expected"] for o in team))
    assert mgr["commit"] == pytest.approx(sum(owners[o]["commit"] for o in team))
    assert owners["rep1"]["manager_id"] == "mgr" and owners["rep1"]["name"] == "R1"
    assert mgr["p10"] <= mgr["p50"] <= mgr["p90"]


def test_categories_count_deals_stated_to_close_in_the_period() -> None:
    inp = inputs()
    rows = run(inp)
    d = inp.deals
    nov = d[(d["CloseDate"] >= "2025-11-01") & (d["CloseDate"] <= "2025-11-30")]
    commit = nov[nov["ForecastCategoryName"] == "Commit"]
    got = rows[0]["by_category"]["Commit"]
    assert got["deals"] == len(commit)
    assert got["amount"] == pytest.approx(commit["Amount"].sum())
    assert got["weighted"] == pytest.approx((commit["Amount"] * commit["p"]).sum())
    assert rows[0]["commit"] == pytest.approx(commit["Amount"].sum())


def test_quotas_give_coverage_and_manager_quotas_are_not_double_counted() -> None:
    quotas = pd.DataFrame(
        {
            "owner_id": ["rep1", "rep2", "rep3", "rep1", "mgr"],
            "start_date": [date(2025, 11, 1)] * 3 + [date(2025, 12, 1), date(2025, 12, 1)],
            "amount": [10_000.0, 20_000.0, 30_000.0, 5_000.0, 50_000.0],
        }
    )
    nov, dec = run(inputs(), quotas=quotas)[:2]
    assert nov["quota"] == 60_000.0  # mgr has no November quota: rep1 + rep2 + rep3
    assert nov["coverage"] == pytest.approx(nov["expected"] / 60_000.0)
    assert dec["quota"] == 50_000.0  # December: mgr's own quota stands for the team; rep3 none
    mgr = next(m for m in nov["by_manager"] if m["manager_id"] == "mgr")
    assert mgr["quota"] == 30_000.0
    rep1 = next(o for o in nov["by_owner"] if o["owner_id"] == "rep1")
    assert rep1["quota"] == 10_000.0 and rep1["coverage"] == pytest.approx(rep1["expected"] / 1e4)
    assert run(inputs())[0]["quota"] is None


@pytest.mark.parametrize("sigma", [0.0, 0.5])
def test_exact_expectation_matches_the_simulation_mean(sigma: float) -> None:
    inp = inputs(n=400, correlation=Correlation(sigma), seed=3)
    periods = periods_from(AS_OF, "month", 4)
    deals = inp.open_deals()
    sim = simulate(deals, periods, inp.timing, 40_000, 9, inp.correlation, amount_ratio=inp.ratio)
    exact = expected_matrix(deals, periods, inp.timing, inp.ratio, inp.correlation).sum(axis=0)
    assert sim.totals is not None
    stderr = sim.totals.std(axis=1) / np.sqrt(sim.n_sims)
    assert np.all(np.abs(sim.expected - exact) < 4 * stderr)


def test_levels_are_configurable_and_seeded() -> None:
    a = run(inputs(), levels=(0.05, 0.95))
    b = run(inputs(), levels=(0.05, 0.95))
    assert a == b
    assert a[0]["p5"] <= a[0]["p50"] <= a[0]["p95"] and "p10" not in a[0]
    with pytest.raises(ValueError, match="between 0 and 1"):
        run(inputs(), levels=(0.0, 0.9))


def test_correlation_widens_the_interval() -> None:
    narrow = run(inputs(n=300))[1]
    wide = run(inputs(n=300, correlation=Correlation(0.8)))[1]
    assert wide["p90"] - wide["p10"] > 1.2 * (narrow["p90"] - narrow["p10"])


def test_simulation_failure_gives_the_deterministic_sum_everywhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def boom(*_: Any, **__: Any) -> None:
        raise MemoryError

    monkeypatch.setattr(engine, "simulate", boom)
    first = run(inputs())[0]
    assert first["method"] == "deterministic" and first["p50"] is None and first["unreliable"]
    assert first["expected"] == pytest.approx(first["deterministic"])
    assert sum(o["expected"] for o in first["by_owner"]) == pytest.approx(first["expected"])
    assert all(o["p10"] is None for o in first["by_owner"])
