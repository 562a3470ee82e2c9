"""Completed stage spells: how long deals stayed in each stage (`stage_velocity` compares a
deal's time in its stage with the org's typical time in it)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd


def stage_spells(history: pd.DataFrame) -> pd.DataFrame:
    """Completed stage spells (OpportunityId, StageName, StageEnteredAt, End, Days) in a
    `history_with_slips` frame. Each deal's spells depend on its own rows only."""
    runs = history[history["StageEnteredAt"] == history["CreatedDate"]][
        ["OpportunityId", "StageName", "StageEnteredAt"]
    ]
    ended = runs.groupby("OpportunityId")["StageEnteredAt"].shift(-1)
    spells = runs.assign(End=ended).dropna(subset=["End"])
    return spells.assign(
        Days=(spells["End"] - spells["StageEnteredAt"]).dt.total_seconds() / 86_400
    )


@dataclass(frozen=True)
class Stage:
    ends: np.ndarray  # datetime64[ns], ascending (ties in any order)
    days: np.ndarray  # the spells' lengths
    deals: np.ndarray  # their OpportunityIds


@dataclass(frozen=True)
class StageSpells:
    """`stage_spells` by stage, sorted by End: a time window is a slice. Built once per
    cached org; `replace` swaps a few deals' spells in without touching the rest."""

    stages: dict[str, Stage]

    @classmethod
    def build(cls, spells: pd.DataFrame) -> StageSpells:
        spells = spells.sort_values("End", kind="stable")
        return cls(
            {
                str(name): Stage(
                    group["End"].to_numpy("datetime64[ns]"),
                    group["Days"].to_numpy(float),
                    group["OpportunityId"].to_numpy(object),
                )
                for name, group in spells.groupby("StageName", sort=False)
            }
        )

    @cached_property
    def _rows(self) -> dict[str, dict[str, list[int]]]:
        """Deal -> stage -> its positions there."""
        rows: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for name, stage in self.stages.items():
            for pos, deal in enumerate(stage.deals.tolist()):
                rows[deal][name].append(pos)
        return rows

    def replace(self, deals: Iterable[str], theirs: StageSpells) -> StageSpells:
        """These spells with `deals`' replaced by `theirs`."""
        drop: dict[str, list[int]] = defaultdict(list)
        for deal in deals:
            for name, positions in self._rows.get(deal, {}).items():
                drop[name].extend(positions)
        out = {}
        for name in self.stages.keys() | theirs.stages.keys():
            stage = self.stages.get(name)
            if stage is not None and drop.get(name):
                gone = drop[name]
                stage = Stage(*(np.delete(a, gone) for a in (stage.ends, stage.days, stage.deals)))
            new = theirs.stages.get(name)
            if new is not None and stage is not None:
                at = np.searchsorted(stage.ends, new.ends, side="right")
                stage = Stage(
                    np.insert(stage.ends, at, new.ends),
                    np.insert(stage.days, at, new.days),
                    np.insert(stage.deals, at, new.deals),
                )
            out[name] = stage if stage is not None else new
        return StageSpells({k: v for k, v in out.items() if v is not None and len(v.ends)})
