"""Org-wide inputs for scoring a few deals fast: cached per hour, target deals spliced in.

Scoring 500 changed deals should not re-read 50k opportunities and their history. Org-wide
frames (every deal's state, the stage history, contacts) feed only org-level statistics
here: owner and account win rates, typical stage durations, contact lookup. They are built
as of the start of the hour and cached (per database, hour and data version); the target
deals' own state and history are always read exactly at T and replace their cached rows.
So org statistics may lag by under an hour, never lead: nothing after T is ever used.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime

import pandas as pd
from sqlalchemy import func, select

from dealcast.crm.pit import Snapshot
from dealcast.crm.schema import import_run
from dealcast.crm.store import Store

_CACHE: OrderedDict[tuple[str, datetime, int], tuple[pd.DataFrame, ...]] = OrderedDict()
_CACHE_SIZE = 4


def data_version(store: Store) -> int:
    """Bumps with every import or sync: cached org frames never outlive the data."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(import_run.c.id), 0))).scalar_one())


def _org_frames(store: Store, hour: datetime) -> tuple[pd.DataFrame, ...]:
    key = (store.engine.url.render_as_string(hide_password=True), hour, data_version(store))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    snap = store.as_of(hour)
    frames = (snap.opportunities(), snap.history(), snap.contacts())
    _CACHE[key] = frames
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return frames


def org_context(store: Store, scoped: Snapshot) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(state, history, contacts) for feature inputs; `scoped` is the target deals at T."""
    hour = pd.Timestamp(scoped.as_of).floor("h").to_pydatetime()
    state, history, contacts = _org_frames(store, hour)
    ids = scoped.opportunity_ids or []
    mine_state, mine_history = scoped.opportunities(), scoped.history()
    state = pd.concat([state[~state["Id"].isin(ids)], mine_state], ignore_index=True)
    history = pd.concat(
        [history[~history["OpportunityId"].isin(ids)], mine_history], ignore_index=True
    )
    return state, history, contacts
