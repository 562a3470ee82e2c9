"""Deal features as of any instant t, vectorised over (deal, t) pairs.

`compute(inputs, pairs)` returns one row per pair: the deal's state at t (stage, amount,
close date, Salesforce probability) and the FEATURES below, using only rows known at t
(see `feature_inputs`). Missing values stay NaN here; the model imputes training medians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from dealcast.crm.custom_fields import truthy
from dealcast.ml import horizon_features
from dealcast.ml.event_index import ACTIVITY_WINDOW_DAYS, DAY, EventIndex, seconds
from dealcast.ml.feature_inputs import DM_ROLES, FeatureInputs
from dealcast.ml.spells import StageSpells, stage_spells


@dataclass(frozen=True)
class Feature:
    name: str
    description: str


FEATURES: tuple[Feature, ...] = (
    Feature("deal_age_days", "days since the deal was created"),
    Feature("stage_duration_days", "days in the current stage"),
    Feature("activity_count_30d", "calls, meetings, tasks and emails in the last 30 days"),
    Feature("email_response_rate", "buyer replies per email sent (lifetime, capped at 1)"),
    Feature("meeting_count_30d", "meetings in the last 30 days"),
    Feature("champion_engagement_score", "log(1 + champion touches in the last 30 days)"),
    Feature("account_health_score", "the account's smoothed win rate on earlier deals"),
    Feature("competitor_mentions", "emails and notes that mention a competitor"),
    Feature("pricing_discussions", "emails and notes about price or discounts"),
    Feature("contract_review_started", "legal, contract or security review under way (0/1)"),
    Feature("decision_maker_engaged", "a decision maker or economic buyer is on the deal (0/1)"),
    Feature("budget_confirmed", "budget confirmed in writing or in a mapped CRM field (0/1)"),
    Feature("stage_index", "position of the stage in the sales process"),
    Feature("sf_probability", "the stage's Salesforce probability"),
    Feature("close_date_slips", "times the close date was pushed out"),
    Feature("days_pushed", "total days the close date was pushed out"),
    Feature("days_to_close", "days until the stated close date (negative: overdue)"),
    Feature("amount_log", "log(1 + amount)"),
    Feature("amount_change_pct", "amount change since creation (fraction)"),
    Feature("stage_velocity", "time in stage relative to the org's typical time in it"),
    Feature("engaged_contacts_count", "buyer contacts who replied, met or took a call"),
    Feature("days_since_last_inbound", "days since the buyer last wrote (or since creation)"),
    Feature("owner_win_rate", "the owner's smoothed win rate over the past year"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
STATE_COLUMNS = ("StageName", "Amount", "CloseDate", "Probability")
# 0/1 features a mapped CRM field may also set (field map `custom:` section, e.g.
# Budget_Confirmed__c -> budget_confirmed): the flag is on when the text signal says so OR
# the CRM value known at t is true.
CRM_FLAG_FEATURES = ("budget_confirmed", "contract_review_started", "decision_maker_engaged")


def compute(inputs: FeatureInputs, pairs: pd.DataFrame) -> pd.DataFrame:
    """`pairs`: columns OpportunityId, AsOf (<= the inputs' horizon)."""
    pairs = pairs[["OpportunityId", "AsOf"]].reset_index(drop=True)
    pairs["AsOf"] = pd.to_datetime(pairs["AsOf"]).astype("datetime64[ns]")
    if (pairs["AsOf"] > pd.Timestamp(inputs.horizon)).any():
        raise ValueError("feature times must not be later than the inputs' horizon")
    deals = pd.Index(inputs.opps["OpportunityId"])
    code = deals.get_indexer(pd.Index(pairs["OpportunityId"]))
    if (code < 0).any():
        unknown = pairs.loc[code < 0, "OpportunityId"].iloc[0]
        raise ValueError(f"no opportunity {unknown} existed at the horizon")
    t = seconds(pairs["AsOf"])
    out = _state(inputs, pairs)
    f: dict[str, np.ndarray] = {}
    created = seconds(inputs.opps["CreatedDate"].to_numpy()[code])
    f["deal_age_days"] = (t - created) / DAY
    f["stage_duration_days"] = (t - seconds(out["StageEnteredAt"])) / DAY
    f["stage_duration_days"][out["StageEnteredAt"].isna().to_numpy()] = np.nan
    stage_pos = {name: inputs.stages.index(name) for name in inputs.stages.names}
    f["stage_index"] = out["StageName"].map(stage_pos).to_numpy(float)
    f["sf_probability"] = out["Probability"].to_numpy(float)
    f["close_date_slips"] = out["SlipCount"].to_numpy(float)
    f["days_pushed"] = out["DaysPushed"].to_numpy(float)
    day_start = seconds(pairs["AsOf"].dt.normalize())
    f["days_to_close"] = np.where(
        out["CloseDate"].isna(), np.nan, (seconds(out["CloseDate"]) - day_start) / DAY
    )
    amount = out["Amount"].to_numpy(float)
    f["amount_log"] = np.log1p(np.clip(amount, 0, None))
    first = out["FirstAmount"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        f["amount_change_pct"] = np.where(first > 0, amount / first - 1.0, np.nan)
    f["stage_velocity"] = f["stage_duration_days"] / _typical_stage_days(inputs, out, pairs)
    f.update(_activity_features(inputs, deals, code, t, f["deal_age_days"]))
    f.update(_relationship_features(inputs, deals, code, t))
    for name, known in _crm_flags(inputs, pairs).items():
        f[name] = np.maximum(f[name], known)
    features = pd.DataFrame({name: f[name] for name in FEATURE_NAMES})
    state = out[list(STATE_COLUMNS)].reset_index(drop=True)
    return pd.concat([pairs, state, features], axis=1)


def _state(inputs: FeatureInputs, pairs: pd.DataFrame) -> pd.DataFrame:
    left = pairs.assign(_row=np.arange(len(pairs))).sort_values("AsOf", kind="stable")
    hist = inputs.history
    hist = hist[hist["OpportunityId"].isin(pairs["OpportunityId"])]  # only these deals match
    # stable: rows changed at the same instant keep their (CreatedDate, Id) order, so the
    # last one wins whichever other deals are loaded (as in the point-in-time view)
    right = hist.rename(columns={"CreatedDate": "_changed"}).sort_values("_changed", kind="stable")
    merged = pd.merge_asof(
        left, right, left_on="AsOf", right_on="_changed", by="OpportunityId", direction="backward"
    )
    return merged.sort_values("_row").reset_index(drop=True)


def _typical_stage_days(
    inputs: FeatureInputs, state: pd.DataFrame, pairs: pd.DataFrame
) -> np.ndarray:
    """Median days spent in the stage by spells that ended within 2 years before t."""
    spells = inputs.spells
    if spells is None:
        spells = StageSpells.build(stage_spells(inputs.history))
    result = np.full(len(pairs), np.nan)
    stage = state["StageName"].to_numpy(object)
    t_all = pairs["AsOf"].to_numpy()
    for name, group in spells.stages.items():
        rows = np.flatnonzero(stage == name)
        for when in np.unique(t_all[rows]):
            # a window [lo, hi) of the End-sorted spells holds every tie of its bounds
            hi = np.searchsorted(group.ends, when, side="right")
            lo = np.searchsorted(group.ends, when - np.timedelta64(730, "D"), side="right")
            if hi > lo:
                median = float(np.median(group.days[lo:hi]))
                result[rows[t_all[rows] == when]] = max(median, 1.0)
    return result


def _codes(deals: pd.Index, ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    codes = deals.get_indexer(pd.Index(ids))
    return codes, codes >= 0


def _activity_features(
    inputs: FeatureInputs, deals: pd.Index, code: np.ndarray, t: np.ndarray, age: np.ndarray
) -> dict[str, np.ndarray]:
    if inputs.activity_summary is not None:
        if (t != seconds(pd.Series([inputs.horizon]))[0]).any():
            raise ValueError(
                "these inputs hold activities summed at their horizon; load them without "
                "horizon_only to compute features at other times"
            )
        champ_of, named = _champions(inputs, deals, code, t)
        champion = np.array(
            [champ_of.get(c) if n else None for c, n in zip(code, named, strict=True)]
        )
        return horizon_features.activity_features(
            inputs.activity_summary, deals, code, t, age, champion
        )
    acts = inputs.activities
    acode, keep = _codes(deals, acts["OpportunityId"])
    acts, acode = acts[keep], acode[keep]
    known = seconds(acts["Known"])

    def index(mask: np.ndarray | pd.Series) -> EventIndex:
        m = np.asarray(mask, dtype=bool)
        return EventIndex(acode[m], known[m])

    month = t - ACTIVITY_WINDOW_DAYS * DAY
    f = {
        "activity_count_30d": index(np.ones(len(acts))).count_between(code, month, t),
        "meeting_count_30d": index(acts["Kind"] == "meeting").count_between(code, month, t),
    }
    email = (acts["Kind"] == "email").to_numpy()
    inbound_idx = index(email & acts["Inbound"].to_numpy())
    inbound = inbound_idx.count_until(code, t)
    outbound = index(email & ~acts["Inbound"].to_numpy()).count_until(code, t)
    with np.errstate(divide="ignore", invalid="ignore"):
        f["email_response_rate"] = np.where(
            outbound > 0, np.minimum(inbound / outbound, 1.0), np.nan
        )
    last_in = inbound_idx.last_until(code, t)
    f["days_since_last_inbound"] = np.where(last_in >= 0, (t - last_in) / DAY, age)
    for name, signal in (("competitor_mentions", "competitor"), ("pricing_discussions", "pricing")):
        f[name] = index(acts[signal]).count_until(code, t).astype(float)
    f["contract_review_started"] = index(acts["contract_review"]).count_until(code, t) > 0
    f["budget_confirmed"] = index(acts["budget_confirmed"]).count_until(code, t) > 0
    engaging = (acts["Inbound"] | acts["Kind"].isin(["meeting", "call"])) & acts[
        "ContactId"
    ].notna()
    eng = acts[engaging.to_numpy()].assign(
        _code=acode[engaging.to_numpy()], _known=known[engaging.to_numpy()]
    )
    firsts = eng.groupby(["_code", "ContactId"])["_known"].min()
    f["engaged_contacts_count"] = EventIndex(
        firsts.index.get_level_values(0).to_numpy(), firsts.to_numpy()
    ).count_until(code, t)
    f["champion_engagement_score"] = _champion(inputs, deals, eng, code, t)
    return {k: np.asarray(v, dtype=float) for k, v in f.items()}


def _champion(
    inputs: FeatureInputs, deals: pd.Index, eng: pd.DataFrame, code: np.ndarray, t: np.ndarray
) -> np.ndarray:
    champ_of, named = _champions(inputs, deals, code, t)
    touches = eng[eng["ContactId"].to_numpy() == eng["_code"].map(champ_of).to_numpy()]
    counts = EventIndex(touches["_code"].to_numpy(), touches["_known"].to_numpy()).count_between(
        code, t - ACTIVITY_WINDOW_DAYS * DAY, t
    )
    return np.where(named, np.log1p(counts), 0.0)


def _champions(
    inputs: FeatureInputs, deals: pd.Index, code: np.ndarray, t: np.ndarray
) -> tuple[dict[int, str], np.ndarray]:
    """Each deal's champion (its first primary contact role), by deal code; and per pair,
    whether it was named by t."""
    primary = inputs.roles[inputs.roles["IsPrimary"]].sort_values("CreatedDate")
    primary = primary.drop_duplicates("OpportunityId")
    at = deals.get_indexer(pd.Index(primary["OpportunityId"]))
    champ_of = dict(zip(at, primary["ContactId"], strict=True))
    since = dict(zip(at, seconds(primary["CreatedDate"]), strict=True))
    named = np.array([since.get(c, np.iinfo(np.int64).max) for c in code]) <= t
    return champ_of, named


def _relationship_features(
    inputs: FeatureInputs, deals: pd.Index, code: np.ndarray, t: np.ndarray
) -> dict[str, np.ndarray]:
    roles = inputs.roles
    dm = roles[roles["Role"].isin(DM_ROLES)]
    dcode, keep = _codes(deals, dm["OpportunityId"])
    dm_index = EventIndex(dcode[keep], seconds(dm["CreatedDate"])[keep])
    closes = inputs.closes
    closed_at = seconds(closes["ClosedAt"])
    won = closes["IsWon"].to_numpy(bool)
    f = {"decision_maker_engaged": (dm_index.count_until(code, t) > 0).astype(float)}
    for name, column, prior_won, prior_n, window in (
        ("account_health_score", "AccountId", 1.0, 4.0, None),
        ("owner_win_rate", "OwnerId", 2.0, 8.0, 365 * DAY),
    ):
        groups = pd.Index(pd.unique(inputs.opps[column].dropna()))
        c_codes = groups.get_indexer(pd.Index(closes[column]))
        ok = c_codes >= 0
        mine = groups.get_indexer(inputs.opps[column].to_numpy()[code])
        closed_idx = EventIndex(c_codes[ok], closed_at[ok])
        won_idx = EventIndex(c_codes[ok & won], closed_at[ok & won])
        start = t - window if window else np.full_like(t, -1)
        n_closed = np.where(mine >= 0, closed_idx.count_between(mine, start, t), 0)
        n_won = np.where(mine >= 0, won_idx.count_between(mine, start, t), 0)
        f[name] = (n_won + prior_won) / (n_closed + prior_n)
    return f


def _crm_flags(inputs: FeatureInputs, pairs: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per CRM_FLAG_FEATURES name with mapped values: 1.0 where the value known at t (the
    last row with Known <= t) is true, else 0.0."""
    crm = inputs.crm_fields
    out: dict[str, np.ndarray] = {}
    if crm is None or crm.empty:
        return out
    left = pairs.assign(_row=np.arange(len(pairs))).sort_values("AsOf", kind="stable")
    for name in CRM_FLAG_FEATURES:
        rows = crm[crm["Feature"] == name]
        if rows.empty:
            continue
        right = pd.DataFrame(
            {
                "OpportunityId": rows["RecordId"].to_numpy(object),
                "_known": rows["Known"].to_numpy("datetime64[ns]"),
                "_on": [truthy(v) for v in rows["Value"]],
            }
        ).sort_values("_known", kind="stable")
        merged = pd.merge_asof(
            left, right, left_on="AsOf", right_on="_known", by="OpportunityId"
        ).sort_values("_row")
        out[name] = merged["_on"].eq(True).to_numpy(dtype=float)
    return out
