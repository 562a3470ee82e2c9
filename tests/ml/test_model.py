from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dealcast.ml import calibration
from dealcast.ml.model import CalibratedModel, ModelParams


def _data(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(
        {"a": rng.normal(size=n), "b": rng.normal(size=n), "noise": rng.normal(size=n)}
    )
    x.loc[rng.uniform(size=n) < 0.05, "b"] = np.nan
    logit = 1.5 * x["a"] - 1.0 * x["b"].fillna(0) - 1.0
    y = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).to_numpy(int)
    return x, y


@pytest.fixture(scope="module")
def fitted() -> tuple[CalibratedModel, object]:
    return CalibratedModel.fit(
        _data(4000, 1), _data(2000, 2), _data(2000, 3), ModelParams(n_estimators=60)
    )


def test_fit_is_discriminative_and_calibrated(fitted: tuple[CalibratedModel, object]) -> None:
    model, report = fitted
    assert report.validation.auc > 0.8  # type: ignore[attr-defined]
    assert report.validation.ece < 0.05  # type: ignore[attr-defined]
    assert report.calibration in ("none", "platt", "isotonic")  # type: ignore[attr-defined]
    x, _ = _data(500, 9)
    p = model.predict(x)
    assert ((p >= calibration.P_MIN) & (p <= calibration.P_MAX)).all()


def test_contributions_add_up_to_the_margin(fitted: tuple[CalibratedModel, object]) -> None:
    model, _ = fitted
    x, _ = _data(300, 10)
    contribs = model.contributions(x)
    assert contribs.shape == (300, 4)
    np.testing.assert_allclose(contribs.sum(axis=1), model.margin(x), rtol=1e-4, atol=1e-4)
    # "a" drives the outcome, "noise" does not
    assert np.abs(contribs[:, 0]).mean() > 5 * np.abs(contribs[:, 2]).mean()


def test_round_trip_reproduces_predictions(fitted: tuple[CalibratedModel, object]) -> None:
    model, _ = fitted
    x, _ = _data(300, 11)
    again = CalibratedModel.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.medians == model.medians


def test_missing_features_and_bad_artifacts_are_errors(
    fitted: tuple[CalibratedModel, object],
) -> None:
    model, _ = fitted
    with pytest.raises(ValueError, match="missing"):
        model.predict(pd.DataFrame({"a": [1.0]}))
    with pytest.raises(ValueError, match="not a dealcast model"):
        CalibratedModel.from_bytes(b'{"format": "other"}')


def test_calibrators_round_trip_and_choose() -> None:
    rng = np.random.default_rng(4)
    margin = rng.normal(size=3000)
    y = (rng.uniform(size=3000) < 1 / (1 + np.exp(-(2 * margin - 1)))).astype(int)
    best, scores = calibration.choose(margin[:1500], y[:1500], margin[1500:], y[1500:])
    assert set(scores) == {"none", "platt", "isotonic"}
    assert scores[best.kind]["brier"] == min(s["brier"] for s in scores.values())
    platt = calibration.Platt.fit(margin, y)
    assert platt.slope == pytest.approx(2, abs=0.2)
    for cal in (platt, calibration.Isotonic.fit(margin, y), calibration.Identity(10)):
        again = calibration.from_dict(cal.to_dict())
        np.testing.assert_allclose(again.apply(margin), cal.apply(margin))
        assert (cal.support(margin) > 0).all()


def test_every_prediction_names_its_threads(
    fitted: tuple[CalibratedModel, object], monkeypatch: pytest.MonkeyPatch
) -> None:
    """xgboost 3.2 never restores its global nthread to 0 ("all cores") after a
    `config_context(nthread=1)`: each prediction must ask for its threads explicitly, or a
    service would score everything on one thread after its first small batch."""
    import xgboost as xgb

    from dealcast.ml import model as model_module

    model, _ = fitted
    asked: list[int] = []
    real = xgb.config_context
    monkeypatch.setattr(
        model_module.xgb, "config_context", lambda **kw: asked.append(kw["nthread"]) or real(**kw)
    )
    x, _ = _data(3000, 4)
    model.margin(x.iloc[:10])
    model.contributions(x.iloc[:500])
    model.margin(x)
    model.contributions(x.iloc[:50])
    cores = model_module.ALL_CORES
    assert asked == [1, cores, cores, 1]
