"""Vectorised "how many events of this deal happened in (start, end]" lookups.

Events are encoded as one sorted int64 key per event, `group * SPAN + seconds`, so a window
count for any number of (group, start, end) queries is two `searchsorted` calls: no Python
loop over deals or snapshot times. Groups are dense integer codes (deal, account, owner...).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

EPOCH = np.datetime64("1970-01-01T00:00:00", "s")
SPAN = np.int64(10**10)  # seconds: covers 1970..2286
DAY = 86_400  # seconds
# the window of activity_count_30d, meeting_count_30d and champion touches, for the row
# path (`features`) and the summed one (`activity_rollup`, `horizon_features`) alike
ACTIVITY_WINDOW_DAYS = 30


def seconds(times: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """Datetimes -> int64 seconds since 1970 (NaT -> a large sentinel: never inside a window)."""
    values = np.asarray(pd.to_datetime(times), dtype="datetime64[s]")
    out = (values - EPOCH).astype(np.int64)
    out[np.isnat(values)] = SPAN - 1
    return out


class EventIndex:
    def __init__(self, groups: np.ndarray, times: np.ndarray) -> None:
        """`groups`: int codes (>= 0); `times`: datetime64 or int64 seconds."""
        secs = times if times.dtype == np.int64 else seconds(times)
        self.keys = np.sort(groups.astype(np.int64) * SPAN + secs)

    def count_until(self, groups: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Events of each group with time <= at."""
        g = groups.astype(np.int64) * SPAN
        upper = np.searchsorted(self.keys, g + at, side="right")
        lower = np.searchsorted(self.keys, g, side="left")
        return upper - lower

    def count_between(self, groups: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
        """Events of each group with start < time <= end."""
        g = groups.astype(np.int64) * SPAN
        upper = np.searchsorted(self.keys, g + end, side="right")
        lower = np.searchsorted(self.keys, g + start, side="right")
        return upper - lower

    def last_until(self, groups: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Seconds of each group's last event with time <= at; -1 where there is none."""
        g = groups.astype(np.int64) * SPAN
        pos = np.searchsorted(self.keys, g + at, side="right") - 1
        found = pos >= 0
        key = np.where(found, self.keys[np.clip(pos, 0, None)] if len(self.keys) else 0, -1)
        same_group = found & (key >= g) & (key < g + SPAN)
        return np.where(same_group, key - g, -1)
