"""The activity features at the horizon from per-deal sums (`activity_rollup.summarise`):
the same definitions as `features._activity_features` computes from rows, for the few-deals
path that scores at the horizon only (the equality is tested on the demo org)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dealcast.ml.activity_rollup import ActivitySummary
from dealcast.ml.event_index import DAY, seconds


def activity_features(
    summary: ActivitySummary,
    deals: pd.Index,
    code: np.ndarray,
    t: np.ndarray,
    age: np.ndarray,
    champion: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per pair (deal `code`, time `t` = the horizon); `champion`: each pair's champion
    contact (None when it has none at t)."""
    ids = deals[code]
    sums = summary.deals.reindex(ids)
    counts = {c: sums[c].fillna(0).to_numpy(float) for c in sums.columns if c != "LastInbound"}
    f = {
        "activity_count_30d": counts["InWindow"],
        "meeting_count_30d": counts["MeetingsInWindow"],
    }
    inbound, outbound = counts["Inbound"], counts["Outbound"]
    with np.errstate(divide="ignore", invalid="ignore"):
        f["email_response_rate"] = np.where(
            outbound > 0, np.minimum(inbound / outbound, 1.0), np.nan
        )
    last_in = seconds(sums["LastInbound"])
    replied = sums["LastInbound"].notna().to_numpy()
    f["days_since_last_inbound"] = np.where(replied, (t - last_in) / DAY, age)
    f["competitor_mentions"] = counts["competitor"]
    f["pricing_discussions"] = counts["pricing"]
    f["contract_review_started"] = counts["contract_review"] > 0
    f["budget_confirmed"] = counts["budget_confirmed"] > 0
    contacts = summary.contacts.dropna(subset=["ContactId"])
    engaged = contacts.drop_duplicates(["OpportunityId", "ContactId"])
    f["engaged_contacts_count"] = (
        engaged.groupby("OpportunityId").size().reindex(ids).fillna(0).to_numpy(float)
    )
    touches = contacts[contacts["InWindow"]].groupby(["OpportunityId", "ContactId"]).size()
    keys = pd.MultiIndex.from_arrays([ids, pd.Index(champion, dtype=object)])
    f["champion_engagement_score"] = np.log1p(touches.reindex(keys).fillna(0).to_numpy(float))
    return {k: np.asarray(v, dtype=float) for k, v in f.items()}
