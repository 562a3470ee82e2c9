"""Text signals per activity, cached in the store by (activity id, text hash, version).

The version covers the patterns, the org's competitor names and (when it is used) the
classifier: its code version, settings, training snippets and scikit-learn version. Changing
any of them recomputes; an edited email body has a new hash, so it is recomputed too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite

from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.schema import text_signal
from dealcast.risk import text_classifier
from dealcast.risk.text_patterns import _PATTERNS, SIGNALS, TextSignals

BITS = {name: 1 << i for i, name in enumerate(SIGNALS)}


def version(signals: TextSignals) -> str:
    parts: tuple[object, ...] = (sorted(_PATTERNS.items()), sorted(signals.competitors), SIGNALS)
    if signals.use_classifier:
        # Patterns-only keeps its old material, so flags cached before the classifier existed
        # (which were patterns-only) stay valid for it.
        parts = (*parts, text_classifier.fingerprint())
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


def cached_signals(
    engine: Engine,
    ids: pd.Series,
    texts: pd.Series,
    signals: TextSignals,
    prepare: Callable[[pd.Series], pd.Series] | None = None,
    prepare_key: str = "",
) -> pd.DataFrame:
    """Boolean frame (one column per signal) aligned with `texts`.

    `prepare` (e.g. masking people's names) runs only on texts missing from the cache;
    `prepare_key` must change whenever `prepare` would produce different text, since the
    cache is keyed by the raw text's hash."""
    ver = version(signals)
    if prepare_key:
        ver = hashlib.sha256(f"{ver}:{prepare_key}".encode()).hexdigest()[:16]
    hashes = texts.fillna("").map(
        lambda t: hashlib.md5(t.encode(), usedforsecurity=False).hexdigest()
    )
    keys: list[tuple[str, str]] = list(zip(ids.astype(str), hashes.astype(str), strict=True))
    found: dict[tuple[str, str], int] = {}
    with engine.connect() as conn:
        # Look up by activity id alone (the primary key's leading column, so an index seek);
        # a row-value IN on both columns makes SQLite scan the whole table per query.
        wanted = set(keys)
        for i in range(0, len(keys), IN_CHUNK):
            chunk = [k[0] for k in keys[i : i + IN_CHUNK]]
            query = select(
                text_signal.c.activity_id, text_signal.c.text_hash, text_signal.c.flags
            ).where(text_signal.c.activity_id.in_(chunk), text_signal.c.version == ver)
            for r in conn.execute(query).fetchall():
                key = (str(r[0]), str(r[1]))
                if key in wanted:
                    found[key] = int(r[2])
    flags = np.array([found.get(k, -1) for k in keys], dtype=np.int64)
    todo = np.flatnonzero(flags < 0)
    if len(todo):
        missing = texts.iloc[todo]
        fresh = signals.detect(prepare(missing) if prepare else missing)
        computed = np.zeros(len(todo), dtype=np.int64)
        for name, bit in BITS.items():
            computed |= np.where(fresh[name].to_numpy(), bit, 0)
        flags[todo] = computed
        rows = {keys[int(i)]: int(f) for i, f in zip(todo, computed, strict=True)}
        _store(engine, rows, ver)
    return pd.DataFrame({name: (flags & bit) > 0 for name, bit in BITS.items()}, index=texts.index)


def _store(engine: Engine, rows: dict[tuple[str, str], int], ver: str) -> None:
    """Upsert: replace whatever an older version left under these keys (and tolerate a
    concurrent writer that stored the same values first)."""
    dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
    values = [
        {"activity_id": a, "text_hash": h, "version": ver, "flags": f} for (a, h), f in rows.items()
    ]
    with engine.begin() as conn:
        for i in range(0, len(values), 5000):
            stmt = dialect.insert(text_signal).values(values[i : i + 5000])
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["activity_id", "text_hash"],
                    set_={"version": stmt.excluded.version, "flags": stmt.excluded.flags},
                )
            )
