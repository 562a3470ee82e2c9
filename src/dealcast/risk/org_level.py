"""Org-level risk context for one or a few deals, cached per hour.

Judging one deal needs two things computed over the whole org: the competitor names in use
(discovered from every open deal's text) and the typical time spent in each stage. Reading
every activity of the org for that takes seconds, so for scoped loads (a chat question, an
API call) they are computed as of the start of the hour and cached per database, hour, data
version and competitor configuration. They may lag by under an hour, never lead: nothing
after T is used. The deal's own activities, history and contacts are always read at T.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from dealcast.crm.store import Store
from dealcast.ml.org_context import data_version
from dealcast.risk.context_activities import discover_names
from dealcast.risk.context_stages import stage_durations
from dealcast.risk.text_patterns import TextSignals

_CACHE: OrderedDict[tuple[str, datetime, int, tuple[str, ...]], OrgLevel] = OrderedDict()
_CACHE_SIZE = 4


@dataclass(frozen=True)
class OrgLevel:
    competitors: tuple[str, ...]  # discovered names (configured ones are added by the caller)
    stage_days: pd.DataFrame


def org_level(store: Store, as_of: datetime, signals: TextSignals) -> OrgLevel:
    hour = pd.Timestamp(as_of).floor("h").to_pydatetime()
    url = store.engine.url.render_as_string(hide_password=True)
    key = (url, hour, data_version(store), tuple(signals.competitors))
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    snap = store.as_of(hour)
    pipeline = set(snap.open_opportunities()["Id"])
    found = discover_names(snap, pipeline, snap.contacts(), snap.users(), signals)
    value = OrgLevel(found, stage_durations(snap.history(), store.stages, snap.as_of))
    _CACHE[key] = value
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return value
