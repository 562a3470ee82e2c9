"""Walk-forward win probabilities: what a scorer would have said at T, using only data known
at T. The backtest feeds these to `inputs.load_inputs(store, T, probabilities=...)`.

Scorers:
- `model`: XGBoost + calibration (`ml.training.train`) trained on `FeatureInputs.load(store,
  C)`, i.e. only on deals closed by the training cut-off C <= T, then applied to the
  features (`ml.features.compute`) of the deals open at T, computed from
  `FeatureInputs.load(store, T)`. With too little history at C (`NotEnoughHistory`) it falls
  back to the rule-based scorer and says so in `PitScores.note`.
- `rules`: `ml.rules.rule_probability` on the same features (no training).
- `stage`: the Salesforce stage probability at T (Probability / 100).

Retraining: the model for T is the one trained at the latest quarter start <= T (cut-off C =
the last instant before that quarter began: 23:59:59.999999 of the day before), trained once
and cached, so a monthly backtest trains once per quarter rather than once per date. C <= T
always, so this stays point-in-time: a model never sees a deal that closed after T.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np
import pandas as pd

from dealcast.crm.store import Store
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.features import compute
from dealcast.ml.model import CalibratedModel, ModelParams
from dealcast.ml.rules import RULES_VERSION, rule_probability
from dealcast.ml.training import NotEnoughHistory, train
from dealcast.sim.periods import periods_from

SCORERS = ("model", "rules", "stage")
TICK = timedelta(microseconds=1)


def instant_before(day: date) -> datetime:
    """The last instant before `day` began (00:00): the pipeline as it stood when `day`
    started. Store.as_of includes rows with CreatedDate <= T, so nothing dated on `day`
    itself is seen."""
    return datetime.combine(day, time.min) - TICK


@dataclass(frozen=True)
class PitScores:
    as_of: datetime
    probabilities: Mapping[str, float]  # deal id -> win probability 0-1, deals open at T
    scorer: str  # what was asked for
    used: str  # what actually scored: model | rules | stage
    model_version: str  # e.g. "walkforward:2025-06-30" (the training cut-off), "rules", "stage"
    trained_until: datetime | None = None  # the training cut-off C (model only)
    note: str | None = None  # why a fallback was used


@dataclass
class _Trained:
    model: CalibratedModel | None
    note: str | None


@dataclass
class WalkForward:
    """Scores deals open at T point-in-time; caches one trained model per training cut-off."""

    store: Store
    scorer: str = "model"
    fiscal_start_month: int = 1
    params: ModelParams | None = None
    _models: dict[datetime, _Trained] = field(default_factory=dict, repr=False)
    _scores: dict[datetime, PitScores] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.scorer not in SCORERS:
            raise ValueError(f"scorer {self.scorer!r} is not one of {', '.join(SCORERS)}")

    def training_cutoff(self, as_of: datetime) -> datetime:
        """The last instant before the latest quarter start <= T (never after T)."""
        # the day T + 1 tick falls on: T itself may be the last tick of the previous day
        day = (as_of + TICK).date()
        (quarter,) = periods_from(day, "quarter", 1, fiscal_start_month=self.fiscal_start_month)
        cutoff = instant_before(quarter.start)
        assert cutoff <= as_of
        return cutoff

    @property
    def trained(self) -> dict[datetime, str | None]:
        """Training cut-offs so far -> None (trained) or the fallback note."""
        return {c: t.note for c, t in self._models.items()}

    def _model(self, cutoff: datetime) -> _Trained:
        if cutoff not in self._models:
            try:
                result = train(FeatureInputs.load(self.store, cutoff))
                self._models[cutoff] = _Trained(result.model, None)
            except NotEnoughHistory as exc:
                self._models[cutoff] = _Trained(None, f"rule-based scorer used: {exc}")
        return self._models[cutoff]

    def scores(self, as_of: datetime) -> PitScores:
        """Scores of the deals open at T, computed once per T for the life of this object
        (several backtests over the same dates share them)."""
        if as_of not in self._scores:
            self._scores[as_of] = self._score(as_of)
        return self._scores[as_of]

    def _score(self, as_of: datetime) -> PitScores:
        if self.scorer == "stage":
            open_deals = self.store.as_of(as_of).open_opportunities()
            p = open_deals["Probability"].fillna(10.0).to_numpy(float) / 100.0
            return PitScores(as_of, _mapping(open_deals["Id"], p), "stage", "stage", "stage")
        inputs = FeatureInputs.load(self.store, as_of)
        closed = set(inputs.closes["OpportunityId"])
        ids = [i for i in inputs.opps["OpportunityId"] if i not in closed]
        feats = compute(inputs, pd.DataFrame({"OpportunityId": ids, "AsOf": as_of}))
        if self.scorer == "model":
            cutoff = self.training_cutoff(as_of)
            trained = self._model(cutoff)
            if trained.model is not None:
                p = trained.model.predict(feats[trained.model.features])
                version = f"walkforward:{cutoff:%Y-%m-%d}"
                return PitScores(as_of, _mapping(ids, p), "model", "model", version, cutoff)
            return PitScores(
                as_of,
                _mapping(ids, rule_probability(feats)),
                "model",
                "rules",
                RULES_VERSION,
                cutoff,
                trained.note,
            )
        return PitScores(as_of, _mapping(ids, rule_probability(feats)), "rules", "rules", "rules")


def _mapping(ids: Iterable[str], p: np.ndarray) -> dict[str, float]:
    values = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
    return dict(zip(list(ids), values.tolist(), strict=True))
