"""Text signals per activity, cached in the store by (activity id, text hash, version).

The version covers the patterns and the org's competitor names, so changing either
recomputes; an edited email body has a new hash, so it is recomputed too.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select, tuple_
from sqlalchemy.exc import IntegrityError

from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.schema import text_signal
from dealcast.risk.text_patterns import _PATTERNS, SIGNALS, TextSignals

BITS = {name: 1 << i for i, name in enumerate(SIGNALS)}


def version(signals: TextSignals) -> str:
    material = repr((sorted(_PATTERNS.items()), sorted(signals.competitors), SIGNALS))
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def cached_signals(
    engine: Engine, ids: pd.Series, texts: pd.Series, signals: TextSignals
) -> pd.DataFrame:
    """Boolean frame (one column per signal) aligned with `texts`."""
    ver = version(signals)
    hashes = texts.fillna("").map(
        lambda t: hashlib.md5(t.encode(), usedforsecurity=False).hexdigest()
    )
    keys: list[tuple[str, str]] = list(zip(ids.astype(str), hashes.astype(str), strict=True))
    found: dict[tuple[str, str], int] = {}
    with engine.connect() as conn:
        for i in range(0, len(keys), IN_CHUNK // 2):
            chunk = keys[i : i + IN_CHUNK // 2]
            query = select(
                text_signal.c.activity_id, text_signal.c.text_hash, text_signal.c.flags
            ).where(
                tuple_(text_signal.c.activity_id, text_signal.c.text_hash).in_(chunk),
                text_signal.c.version == ver,
            )
            found.update({(str(r[0]), str(r[1])): int(r[2]) for r in conn.execute(query)})
    flags = np.array([found.get(k, -1) for k in keys], dtype=np.int64)
    todo = np.flatnonzero(flags < 0)
    if len(todo):
        fresh = signals.detect(texts.iloc[todo])
        computed = np.zeros(len(todo), dtype=np.int64)
        for name, bit in BITS.items():
            computed |= np.where(fresh[name].to_numpy(), bit, 0)
        flags[todo] = computed
        rows = {keys[int(i)]: int(f) for i, f in zip(todo, computed, strict=True)}
        _store(engine, rows, ver)
    return pd.DataFrame({name: (flags & bit) > 0 for name, bit in BITS.items()}, index=texts.index)


def _store(engine: Engine, rows: dict[tuple[str, str], int], ver: str) -> None:
    """Replace whatever an older version left under these keys. A concurrent writer that got
    there first wrote the same values, so a conflict is harmless."""
    keys = list(rows)
    columns = tuple_(text_signal.c.activity_id, text_signal.c.text_hash)
    try:
        with engine.begin() as conn:
            for i in range(0, len(keys), IN_CHUNK // 2):
                conn.execute(text_signal.delete().where(columns.in_(keys[i : i + IN_CHUNK // 2])))
            conn.execute(
                text_signal.insert(),
                [
                    {"activity_id": a, "text_hash": h, "version": ver, "flags": f}
                    for (a, h), f in rows.items()
                ],
            )
    except IntegrityError:
        pass
