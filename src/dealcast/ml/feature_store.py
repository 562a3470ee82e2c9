"""Materialised features: computed once, stored with their `as_of`, reused while fresh.

Refresh policy (configurable): a deal's stored features are reused for a request at T when
they were computed as of T' <= T and T - T' is under the deal's refresh interval: one hour
for active deals (any activity in the last 14 days), one day for the rest. Reuse never
looks ahead (T' <= T), so it cannot leak; it can only be as stale as the policy allows.
Imports and syncs drop, in their own transaction, exactly the rows their writes may have
made wrong (`crm.affected`: the changed deals' rows, rows as of on or after the earliest
newly known change, and every row of deals whose past an edit rewrote), so new CRM data is
never hidden behind the cache while unaffected deals keep theirs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import and_, func, select

from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.schema import deal_features
from dealcast.crm.store import Store
from dealcast.ml.feature_inputs import FeatureInputs
from dealcast.ml.features import FEATURE_NAMES, STATE_COLUMNS, compute

FEATURE_CODE_VERSION = "1"  # bump when a feature's definition changes


def feature_version() -> str:
    material = f"{FEATURE_CODE_VERSION}:{','.join(FEATURE_NAMES)}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RefreshPolicy:
    active_every: timedelta = timedelta(hours=1)
    idle_every: timedelta = timedelta(days=1)
    active_within_days: float = 14.0


class FeatureStore:
    def __init__(self, store: Store, policy: RefreshPolicy | None = None) -> None:
        self.store, self.policy = store, policy or RefreshPolicy()
        self.version = feature_version()

    def features(self, as_of: datetime, deal_ids: Iterable[str]) -> pd.DataFrame:
        """State + FEATURES per deal as of `as_of` (column `FeaturesAsOf`: when computed)."""
        ids = sorted(set(deal_ids))
        cached = self._fresh(as_of, ids)
        missing = [i for i in ids if i not in cached.index]
        parts = [cached.reset_index()] if len(cached) else []
        if missing:
            inputs = FeatureInputs.load(self.store, as_of, missing, horizon_only=True)
            fresh = compute(inputs, pd.DataFrame({"OpportunityId": missing, "AsOf": as_of}))
            self._save(fresh)
            parts.append(fresh.assign(FeaturesAsOf=fresh["AsOf"]))
        columns = ["OpportunityId", "AsOf", "FeaturesAsOf", *STATE_COLUMNS, *FEATURE_NAMES]
        if not parts:
            return pd.DataFrame(columns=columns)
        out = pd.concat(parts, ignore_index=True)
        out["AsOf"] = pd.Timestamp(as_of)
        out[list(FEATURE_NAMES)] = out[list(FEATURE_NAMES)].astype(float)
        return out.set_index("OpportunityId").loc[ids].reset_index()[columns]

    def invalidate(self, deal_ids: Iterable[str] | None = None) -> None:
        with self.store.engine.begin() as conn:
            if deal_ids is None:
                conn.execute(deal_features.delete())
                return
            ids = list(deal_ids)
            for i in range(0, len(ids), IN_CHUNK):
                conn.execute(
                    deal_features.delete().where(
                        deal_features.c.opportunity_id.in_(ids[i : i + IN_CHUNK])
                    )
                )

    def _fresh(self, as_of: datetime, ids: list[str]) -> pd.DataFrame:
        c = deal_features.c
        rows: list[Any] = []
        with self.store.engine.connect() as conn:
            for i in range(0, len(ids), IN_CHUNK):
                chunk = ids[i : i + IN_CHUNK]
                latest = (
                    select(c.opportunity_id, func.max(c.as_of).label("as_of"))
                    .where(
                        c.opportunity_id.in_(chunk),
                        c.as_of <= as_of,
                        c.feature_version == self.version,
                    )
                    .group_by(c.opportunity_id)
                    .subquery()
                )
                query = select(c.opportunity_id, c.as_of, c["values"]).join(
                    latest,
                    and_(c.opportunity_id == latest.c.opportunity_id, c.as_of == latest.c.as_of),
                )
                rows.extend(conn.execute(query.where(c.feature_version == self.version)))
        if not rows:
            return pd.DataFrame()
        frame = pd.DataFrame(
            [{"OpportunityId": r[0], "FeaturesAsOf": pd.Timestamp(r[1]), **r[2]} for r in rows]
        )
        for col in ("CloseDate",):
            frame[col] = pd.to_datetime(frame[col])
        age = pd.Timestamp(as_of) - frame["FeaturesAsOf"]
        active = frame["activity_count_30d"].fillna(0).gt(0) | frame["days_since_last_inbound"].lt(
            self.policy.active_within_days
        )
        limit = np.where(
            active.to_numpy(),
            self.policy.active_every.total_seconds(),
            self.policy.idle_every.total_seconds(),
        )
        return frame[age.dt.total_seconds().to_numpy() < limit].set_index("OpportunityId")

    def _save(self, fresh: pd.DataFrame) -> None:
        now = datetime.now(UTC).replace(tzinfo=None)
        cols = [*STATE_COLUMNS, *FEATURE_NAMES]
        records = fresh[cols].astype(object).where(fresh[cols].notna(), None)
        records["CloseDate"] = fresh["CloseDate"].map(
            lambda d: None if pd.isna(d) else d.isoformat()
        )
        rows = [
            {
                "opportunity_id": opp,
                "as_of": pd.Timestamp(t).to_pydatetime(),
                "feature_version": self.version,
                "computed_at": now,
                "values": {k: _plain(v) for k, v in values.items()},
            }
            for opp, t, values in zip(
                fresh["OpportunityId"], fresh["AsOf"], records.to_dict("records"), strict=True
            )
        ]
        ids = [r["opportunity_id"] for r in rows]
        c = deal_features.c
        with self.store.engine.begin() as conn:  # one as_of per call: replace, then insert
            for i in range(0, len(ids), IN_CHUNK):
                conn.execute(
                    deal_features.delete().where(
                        c.feature_version == self.version,
                        c.as_of == rows[0]["as_of"],
                        c.opportunity_id.in_(ids[i : i + IN_CHUNK]),
                    )
                )
            conn.execute(deal_features.insert(), rows)


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value
