"""Roll-up totals from the pipeline's own draws (`simulate(groups=...)`)."""

from __future__ import annotations

import numpy as np
import pytest

from dealcast.sim.engine import run_forecast
from dealcast.sim.montecarlo import Correlation, OpenDeals, simulate
from dealcast.sim.periods import periods_from
from tests.sim.test_engine import AS_OF as ENGINE_AS_OF
from tests.sim.test_engine import inputs as engine_inputs
from tests.sim.test_montecarlo import MONTHS, QUARTER, _deals, _timing


def _subset(deals: OpenDeals, mask: np.ndarray) -> OpenDeals:
    return OpenDeals(deals.p[mask], deals.amount[mask], deals.close[mask], None)


def test_group_totals_add_up_draw_by_draw_and_leave_the_totals_unchanged() -> None:
    deals, periods = _deals(300), MONTHS + QUARTER
    groups = np.arange(300) % 7
    plain = simulate(deals, periods, _timing(), 3000, seed=3, max_bytes=2_000_000)
    grouped = simulate(deals, periods, _timing(), 3000, seed=3, max_bytes=2_000_000, groups=groups)
    single = simulate(
        deals, periods, _timing(), 3000, seed=3, max_bytes=2_000_000, groups=groups, threads=1
    )
    assert plain.totals is not None and grouped.group_totals is not None
    assert np.array_equal(plain.totals, grouped.totals)  # groups draw nothing extra
    assert grouped.group_totals.shape == (7, len(periods), 3000)
    assert np.allclose(grouped.group_totals.sum(axis=0), plain.totals, rtol=1e-6)
    assert single.group_totals is not None
    assert np.array_equal(single.group_totals, grouped.group_totals)
    with pytest.raises(ValueError, match="group code"):
        simulate(deals, periods, _timing(), 10, seed=3, groups=groups[:-1])


@pytest.mark.parametrize("sigma", [0.0, 0.6])
def test_a_group_is_forecast_as_simulating_it_alone_would(sigma: float) -> None:
    deals, periods = _deals(400, seed=2), MONTHS
    groups = np.arange(400) % 4
    corr = Correlation(sigma)
    joint = simulate(deals, periods, _timing(), 20_000, seed=1, correlation=corr, groups=groups)
    assert joint.group_totals is not None
    mine = _subset(deals, groups == 1)
    alone = simulate(mine, periods, _timing(), 20_000, seed=2, correlation=corr)
    assert alone.totals is not None
    got, want = joint.group_totals[1], alone.totals
    sem = want.std(axis=1) / np.sqrt(20_000)
    assert np.all(np.abs(got.mean(axis=1) - want.mean(axis=1)) < 5 * sem)
    assert np.allclose(got.std(axis=1), want.std(axis=1), rtol=0.05)
    for level in (0.1, 0.5, 0.9):
        q_got, q_want = np.quantile(got, level, axis=1), np.quantile(want, level, axis=1)
        assert np.allclose(q_got, q_want, rtol=0.05)


def test_owner_and_team_intervals_match_simulating_their_deals_alone() -> None:
    inp = engine_inputs(n=200, seed=4)
    periods = periods_from(ENGINE_AS_OF, "month", 3)
    first = run_forecast(inp, periods, seed=5, n_sims=20_000)[1]
    deals = inp.open_deals()
    owners = inp.deals["OwnerId"].to_numpy(str)
    rows = {o["owner_id"]: o for o in first["by_owner"]}
    rows |= {f"team:{m['manager_id']}": m for m in first["by_manager"]}
    for key, members in (("rep1", ["rep1"]), ("team:mgr", ["mgr", "rep1", "rep2"])):
        sub = _subset(deals, np.isin(owners, members))
        alone = simulate(
            sub,
            periods,
            inp.timing,
            20_000,
            9,
            inp.correlation,
            amount_ratio=inp.ratio,
            today=inp.as_of.date(),
        )
        row = rows[key]
        spread = float(alone.quantile(0.9)[1] - alone.quantile(0.1)[1])
        for level, name in ((0.1, "p10"), (0.5, "p50"), (0.9, "p90")):
            want = row["closed_won"] + float(alone.quantile(level)[1])
            assert row[name] == pytest.approx(want, abs=0.08 * spread)
