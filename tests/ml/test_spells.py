"""`StageSpells.replace` (the org's cached spells with a few deals' swapped in) holds the
same spells per stage, in End order, as building from the spliced frame."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dealcast.ml.spells import StageSpells


def _spells(rng: np.random.Generator, deals: list[str], n: int) -> pd.DataFrame:
    end = pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    return pd.DataFrame(
        {
            "OpportunityId": rng.choice(deals, n),
            "StageName": rng.choice(["Qualification", "Proposal", "Negotiation"], n),
            "End": end,
            "Days": rng.integers(1, 90, n).astype(float),
        }
    )


def _as_sets(spells: StageSpells) -> dict[str, list[tuple[object, ...]]]:
    out = {}
    for name, stage in spells.stages.items():
        assert (np.diff(stage.ends.astype("int64")) >= 0).all()  # End order
        rows = zip(stage.ends.tolist(), stage.days.tolist(), stage.deals.tolist(), strict=True)
        out[name] = sorted(rows)
    return out


def test_replace_equals_building_from_the_spliced_frame() -> None:
    rng = np.random.default_rng(3)
    deals = [f"006{i:05d}" for i in range(300)]
    org = _spells(rng, deals, 2_000)
    targets = [*deals[:40], "006new"]  # one target the cached org has never seen
    theirs = _spells(rng, targets, 150)
    theirs.loc[theirs.index[:5], "StageName"] = "Discovery"  # a stage the org has no spell in
    spliced = pd.concat([org[~org["OpportunityId"].isin(targets)], theirs], ignore_index=True)
    got = StageSpells.build(org).replace(targets, StageSpells.build(theirs))
    assert _as_sets(got) == _as_sets(StageSpells.build(spliced))


def test_replace_drops_the_spells_of_targets_that_have_none_now() -> None:
    rng = np.random.default_rng(4)
    org = _spells(rng, ["006a", "006b"], 50)
    org.loc[org["OpportunityId"] == "006a", "StageName"] = "Discovery"  # 006a's stage only
    empty = StageSpells.build(org.iloc[:0])
    got = StageSpells.build(org).replace(["006a"], empty)
    assert _as_sets(got) == _as_sets(StageSpells.build(org[org["OpportunityId"] != "006a"]))
