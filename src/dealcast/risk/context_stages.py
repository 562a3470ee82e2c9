"""How long deals in this org typically spend in each stage, learned from history at T.

A spell is a run of consecutive OpportunityHistory rows in the same open stage; it is
complete once the deal moved to another stage (forward, back, or closed). Only spells that
ended within `WINDOW_DAYS` before T count, so the statistics follow the org's current
process, and open spells are left out (they have no duration yet).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from dealcast.crm.stages import StageConfig

WINDOW_DAYS = 730  # two years: long enough for slow enterprise stages, recent enough to adapt
STAT_COLUMNS = ["spells", "median", "p75", "p90"]


def stage_durations(history: pd.DataFrame, stages: StageConfig, as_of: datetime) -> pd.DataFrame:
    """Per open stage: completed spells and their median / 75th / 90th percentile days."""
    open_names = [s.name for s in stages.open_stages]
    empty = pd.DataFrame(0.0, index=pd.Index(open_names, name="StageName"), columns=STAT_COLUMNS)
    empty["spells"] = 0
    if history.empty:
        return empty
    hist = history.sort_values(["OpportunityId", "CreatedDate", "Id"], kind="stable")
    same_deal = hist["OpportunityId"].eq(hist["OpportunityId"].shift())
    starts = hist[~(same_deal & hist["StageName"].eq(hist["StageName"].shift()))]
    ended = starts.groupby("OpportunityId")["CreatedDate"].shift(-1)
    spells = starts.assign(End=ended).dropna(subset=["End"])
    now = pd.Timestamp(as_of)
    spells = spells[
        spells["StageName"].isin(open_names)
        & (spells["End"] <= now)
        & (spells["End"] > now - pd.Timedelta(days=WINDOW_DAYS))
    ]
    days = (spells["End"] - spells["CreatedDate"]).dt.total_seconds() / 86_400
    grouped = days.groupby(spells["StageName"])
    stats = pd.DataFrame(
        {
            "spells": grouped.size(),
            "median": grouped.median(),
            "p75": grouped.quantile(0.75),
            "p90": grouped.quantile(0.90),
        }
    )
    out = stats.reindex(open_names)
    out["spells"] = out["spells"].fillna(0).astype(int)
    out.index.name = "StageName"
    return out
