"""Org-wide inputs for scoring a few deals fast: cached per hour, target deals spliced in.

Scoring 500 changed deals should not re-read 50k opportunities and their history. Org-wide
frames (every deal's state, the stage history, contacts) feed only org-level statistics
here: owner and account win rates, typical stage durations, contact lookup. They are built
as of the start of the hour and cached (per database, hour and data version) with whatever
is derived from them; the target deals' own state and history are always read exactly at
T and replace their cached rows. So org statistics may lag by under an hour, never lead:
nothing after T is ever used. Thread-safe: concurrent misses of one key read the org once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import func, select

from dealcast.crm.pit import Snapshot
from dealcast.crm.schema import import_run
from dealcast.crm.store import Store

T = TypeVar("T")
_CACHE: OrderedDict[tuple[str, datetime, int], OrgFrames] = OrderedDict()
_CACHE_SIZE = 4
_LOCK = threading.Lock()  # guards _CACHE and _LOADING
_LOADING: dict[tuple[str, datetime, int], threading.Lock] = {}  # one per key being read


@dataclass
class OrgFrames:
    state: pd.DataFrame
    history: pd.DataFrame
    contacts: pd.DataFrame
    derived: dict[str, Any] = field(default_factory=dict)

    def derive(self, name: str, build: Callable[[], T]) -> T:
        """A value computed from these frames once, then reused with them."""
        if name not in self.derived:
            self.derived[name] = build()
        return self.derived[name]


@dataclass
class Splice:
    org: OrgFrames  # everything as of the start of the hour
    ids: list[str]  # the target deals...
    state: pd.DataFrame  # ...their state exactly at T
    history: pd.DataFrame  # ...and their history up to T

    def without_targets(self, frame: pd.DataFrame, column: str) -> pd.DataFrame:
        return frame[~frame[column].isin(self.ids)]

    def replace(
        self, org: pd.DataFrame, targets: pd.DataFrame, column: str = "OpportunityId"
    ) -> pd.DataFrame:
        """The org's rows with the target deals' replaced by `targets` (theirs at T)."""
        return pd.concat([self.without_targets(org, column), targets], ignore_index=True)


def data_version(store: Store) -> int:
    """Bumps with every import or sync: cached org frames never outlive the data."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(import_run.c.id), 0))).scalar_one())


def _org_frames(store: Store, hour: datetime) -> OrgFrames:
    key = (store.engine.url.render_as_string(hide_password=True), hour, data_version(store))
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        loading = _LOADING.setdefault(key, threading.Lock())
    with loading:  # the first thread reads the org; the others wait for it, then hit
        with _LOCK:
            if key in _CACHE:
                return _CACHE[key]
        snap = store.as_of(hour)
        frames = OrgFrames(snap.opportunities(), snap.history(), snap.contacts())
        with _LOCK:
            _CACHE[key] = frames
            while len(_CACHE) > _CACHE_SIZE:
                _CACHE.popitem(last=False)
            _LOADING.pop(key, None)
    return frames


def org_context(store: Store, scoped: Snapshot) -> Splice:
    """The org as of the hour, plus the target deals (`scoped`) exactly at T."""
    hour = pd.Timestamp(scoped.as_of).floor("h").to_pydatetime()
    return Splice(
        _org_frames(store, hour),
        scoped.opportunity_ids or [],
        scoped.opportunities(last_activity=False),  # features do not use it
        scoped.history(),
    )
