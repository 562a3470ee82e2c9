"""Walk-forward probabilities: training cut-offs, one model per quarter, the rules fallback,
the stage scorer, and (slow) no leakage from data after T into the model's scores."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from dealcast.crm.store import Store
from dealcast.ml.training import NotEnoughHistory
from dealcast.sim import walkforward
from dealcast.sim.walkforward import WalkForward, instant_before
from tests.demo_org import DemoOrg, copy_store
from tests.sim.test_backtest import cut_store


def test_instant_before_is_the_last_microsecond_of_the_previous_day() -> None:
    assert instant_before(date(2026, 4, 1)) == datetime(2026, 3, 31, 23, 59, 59, 999_999)


def test_training_cutoff_is_the_latest_quarter_start_not_after_t() -> None:
    wf = WalkForward(store=None, scorer="model")  # type: ignore[arg-type]
    q2 = instant_before(date(2026, 4, 1))
    assert wf.training_cutoff(q2) == q2  # a quarter start: trained right up to T
    assert wf.training_cutoff(instant_before(date(2026, 6, 1))) == q2
    assert wf.training_cutoff(datetime(2026, 6, 30, 23, 59, 59)) == q2
    assert wf.training_cutoff(datetime(2026, 7, 1, 0, 0)) == instant_before(date(2026, 7, 1))
    fiscal = WalkForward(store=None, scorer="model", fiscal_start_month=2)  # type: ignore[arg-type]
    assert fiscal.training_cutoff(instant_before(date(2026, 4, 1))) == instant_before(
        date(2026, 2, 1)
    )
    with pytest.raises(ValueError, match="not one of"):
        WalkForward(store=None, scorer="magic")  # type: ignore[arg-type]


class _Model:
    features: ClassVar[list[str]] = ["x"]

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return frame["x"].to_numpy(float)


def _fakes(monkeypatch: pytest.MonkeyPatch, trained: list[datetime], enough: bool) -> None:
    def load(store: Any, horizon: datetime) -> Any:
        return SimpleNamespace(
            horizon=horizon,
            opps=pd.DataFrame({"OpportunityId": ["a", "b", "c"]}),
            closes=pd.DataFrame({"OpportunityId": ["c"]}),  # c is closed: not scored
        )

    def compute(inputs: Any, pairs: pd.DataFrame) -> pd.DataFrame:
        assert (pairs["AsOf"] == inputs.horizon).all()  # features at T, from data at T
        return pairs.assign(
            x=[0.2, 1.4][: len(pairs)],
            sf_probability=[40.0, 60.0][: len(pairs)],
            stage_velocity=1.0,
            days_to_close=10.0,
            amount_log=np.log1p(1000.0),
        )

    def train(inputs: Any) -> Any:
        trained.append(inputs.horizon)
        if not enough:
            raise NotEnoughHistory("only 3 won and 4 lost deals")
        return SimpleNamespace(model=_Model())

    monkeypatch.setattr(walkforward.FeatureInputs, "load", staticmethod(load))
    monkeypatch.setattr(walkforward, "compute", compute)
    monkeypatch.setattr(walkforward, "train", train)


def test_one_model_per_quarter_start_and_scores_clipped(monkeypatch: pytest.MonkeyPatch) -> None:
    trained: list[datetime] = []
    _fakes(monkeypatch, trained, enough=True)
    wf = WalkForward(store=None, scorer="model")  # type: ignore[arg-type]
    days = [date(2026, 4, 1), date(2026, 5, 1), date(2026, 6, 1), date(2026, 7, 1)]
    scores = [wf.scores(instant_before(d)) for d in days]
    assert trained == [instant_before(date(2026, 4, 1)), instant_before(date(2026, 7, 1))]
    first = scores[1]
    assert first.used == "model" and first.note is None
    assert first.model_version == "walkforward:2026-03-31"
    assert first.trained_until == instant_before(date(2026, 4, 1))
    assert dict(first.probabilities) == {"a": 0.2, "b": 1.0}  # 1.4 clipped to 1
    assert set(wf.trained) == set(trained)


def test_not_enough_history_falls_back_to_rules_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    trained: list[datetime] = []
    _fakes(monkeypatch, trained, enough=False)
    wf = WalkForward(store=None, scorer="model")  # type: ignore[arg-type]
    got = wf.scores(instant_before(date(2026, 5, 1)))
    again = wf.scores(instant_before(date(2026, 6, 1)))
    assert len(trained) == 1  # the failure is cached too
    assert got.scorer == "model" and got.used == "rules" and got.model_version == "rules"
    assert got.note is not None and "rule-based" in got.note and "only 3 won" in got.note
    assert again.note == got.note
    # the rules: Salesforce probability x no age/overdue/size discount
    assert dict(got.probabilities) == pytest.approx({"a": 0.4, "b": 0.6})


def test_stage_scorer_is_the_salesforce_probability_at_t(demo_org: DemoOrg) -> None:
    t = instant_before(date(2026, 4, 1))
    got = WalkForward(demo_org.store, "stage").scores(t)
    open_deals = demo_org.store.as_of(t).open_opportunities()
    assert set(got.probabilities) == set(open_deals["Id"])
    expected = dict(zip(open_deals["Id"], open_deals["Probability"] / 100, strict=True))
    assert dict(got.probabilities) == pytest.approx(expected)
    assert got.used == "stage" and got.trained_until is None


@pytest.mark.slow
def test_model_scores_at_t_do_not_depend_on_data_after_t(demo_org: DemoOrg, tmp_path: Path) -> None:
    """Train + score at T on the full store and on a store cut at T: identical."""
    t = instant_before(date(2026, 4, 1))
    store = copy_store(demo_org.store, tmp_path / "full.db")
    full = WalkForward(store, "model").scores(t)
    cut: Store = cut_store(store, t, tmp_path / "cut.db")  # inherits the text-signal cache
    past = WalkForward(cut, "model").scores(t)
    assert full.used == past.used == "model"
    assert full.model_version == past.model_version
    assert full.probabilities.keys() == past.probabilities.keys()
    a = np.array([full.probabilities[k] for k in sorted(full.probabilities)])
    b = np.array([past.probabilities[k] for k in sorted(full.probabilities)])
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
