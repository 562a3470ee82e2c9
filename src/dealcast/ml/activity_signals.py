"""Text-signal flags (`signal_cache.BITS`) of a snapshot's activities, from the cache.

Two ways in, with the same result (the flags `cached_signals` gives the text at T):
- `text_flags`: the activities' texts are at hand (a whole-org read for training). Their
  cached flags are fetched in one query joined to the activity tables; only texts not
  cached under their exact (id, text hash, version) go through `cached_signals`.
- `row_flags`: scoring a few deals reads their activities without the bodies (most of what
  a read costs), each row joined (`SignalCache.join`) to the flags stored for it in
  `activity_signal` by (activity id, notes hidden at T) with the `_row_hash` they were
  computed for. Any edit changes `_row_hash`, so an edited text is never served old flags:
  misses (new or edited rows, notes newly shown, another version) read the text, go
  through `cached_signals` and are stored there.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine, Select, Table, and_, false, func, select, union_all
from sqlalchemy.dialects import postgresql, sqlite

from dealcast.crm.activities import BODY, SOURCES, activity_text
from dealcast.crm.frames import IN_CHUNK
from dealcast.crm.schema import CRM_TABLES, activity_signal, text_signal
from dealcast.risk import signal_cache
from dealcast.risk.context_text import mask_names
from dealcast.risk.signal_cache import cached_signals
from dealcast.risk.text_patterns import TextSignals

# the text signals that features count (one definition for the row and the summed paths)
TEXT_SIGNALS = ("pricing", "competitor", "budget_confirmed", "contract_review")


class SignalCache:
    """The cache as one feature build sees it: these signals, texts masked by `masked`."""

    def __init__(
        self, engine: Engine, signals: TextSignals, masked: list[str], as_of: datetime
    ) -> None:
        self.engine, self.signals, self.masked, self.as_of = engine, signals, masked, as_of
        self.prepare_key = "mask:" + "|".join(masked)
        ver = signal_cache.version(signals)  # combined with prepare_key as cached_signals does
        self.version = hashlib.sha256(f"{ver}:{self.prepare_key}".encode()).hexdigest()[:16]

    def join(self, query: Select[Any], table: Table) -> Select[Any]:
        """`query` on an activity table plus each row's stored flags (CachedFlags and the
        CachedHidden they are for; null when nothing is stored). SQL guesses whether the
        notes are hidden at T; `row_flags` uses a row's flags only if `Snapshot.notes_hidden`
        agrees, so a wrong guess can only cost a miss."""
        m = activity_signal.c
        t = self.as_of
        hidden: Any = false()
        if table.name == CRM_TABLES["Task"].name:
            hidden = func.coalesce(table.c.ActivityDate > t.date(), false())
        elif table.name == CRM_TABLES["Event"].name:
            hidden = func.coalesce(table.c.StartDateTime > t, false())
        row = and_(
            m.activity_id == table.c.Id,
            m.notes_hidden == hidden,
            m.row_hash == table.c._row_hash,
            m.version == self.version,
        )
        return query.outerjoin(activity_signal, row).add_columns(
            m.flags.label("CachedFlags"), m.notes_hidden.label("CachedHidden")
        )

    def compute(self, ids: pd.Series, texts: pd.Series) -> np.ndarray:
        """Flags via `cached_signals` (cached ones read, the rest detected and stored)."""
        fresh = cached_signals(
            self.engine,
            ids,
            texts,
            self.signals,
            prepare=lambda t: mask_names(t, self.masked),
            prepare_key=self.prepare_key,
        )
        bits = np.zeros(len(ids), dtype=np.int64)
        for name, bit in signal_cache.BITS.items():
            bits |= np.where(fresh[name].to_numpy(bool), bit, 0)
        return bits


def text_flags(cache: SignalCache, opportunity_ids: list[str] | None, acts: pd.DataFrame) -> Any:
    """Flags per row of `acts` (with Id and Text)."""
    hashes = [_md5(t) for t in acts["Text"].fillna("").tolist()]
    stored = _by_text_hash(cache, opportunity_ids)
    ids = acts["Id"].astype(str).tolist()
    flags = np.array([stored.get((i, h), -1) for i, h in zip(ids, hashes, strict=True)], np.int64)
    todo = np.flatnonzero(flags < 0)
    if len(todo):
        flags[todo] = cache.compute(acts["Id"].iloc[todo], acts["Text"].iloc[todo])
    return flags


def row_flags(cache: SignalCache, acts: pd.DataFrame) -> Any:
    """Flags per row of `acts` (`activity_frame(snap, text=False, join=cache.join)`)."""
    stored = pd.to_numeric(acts["CachedFlags"]).to_numpy(float)
    hidden = acts["NotesHidden"].to_numpy(bool)
    hit = ~np.isnan(stored) & (acts["CachedHidden"].to_numpy(object) == hidden)
    flags = np.where(hit, np.nan_to_num(stored, nan=-1), -1).astype(np.int64)
    todo = np.flatnonzero(~hit)
    if len(todo):
        missing = acts.iloc[todo]
        texts, row_hashes = _texts_at_t(cache.engine, missing)
        flags[todo] = cache.compute(missing["Id"], texts)
        _remember(cache, missing, row_hashes, flags[todo])
    return flags


def _md5(text: str) -> str:
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _chunks(ids: Sequence[str]) -> list[Sequence[str]]:
    return [ids[i : i + IN_CHUNK] for i in range(0, len(ids), IN_CHUNK)]


def _by_text_hash(
    cache: SignalCache, opportunity_ids: list[str] | None
) -> dict[tuple[str, str], int]:
    """(activity id, text hash) -> cached flags, for the activities of these deals."""
    ts = text_signal.c
    query = select(ts.activity_id, ts.text_hash, ts.flags).where(ts.version == cache.version)
    out: dict[tuple[str, str], int] = {}
    with cache.engine.connect() as conn:
        chunks = [None] if opportunity_ids is None else _chunks(opportunity_ids)
        for chunk in chunks:
            scoped = query
            if chunk is not None:
                parts = [
                    select(CRM_TABLES[name].c.Id).where(CRM_TABLES[name].c[deal].in_(chunk))
                    for name, (deal, _) in SOURCES.items()
                ]
                scoped = query.where(ts.activity_id.in_(union_all(*parts)))
            out.update({(r[0], r[1]): r[2] for r in conn.execute(scoped).all()})
    return out


def _texts_at_t(engine: Engine, acts: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    """The texts at T (bodies blanked where notes are hidden) and row hashes of `acts`."""
    texts: dict[str, str] = {}
    row_hashes: dict[str, str] = {}
    with engine.connect() as conn:
        for name, group in acts.groupby("Source"):
            tab = CRM_TABLES[str(name)]
            query = select(tab.c.Id, tab.c.Subject, tab.c[BODY[str(name)]], tab.c._row_hash)
            ids = group["Id"].tolist()
            rows = [
                r for chunk in _chunks(ids) for r in conn.execute(query.where(tab.c.Id.in_(chunk)))
            ]
            frame = pd.DataFrame(rows, columns=["Id", "Subject", "Body", "RowHash"]).set_index("Id")
            frame = frame.loc[ids]
            hidden = group["NotesHidden"].to_numpy(bool)
            body = frame["Body"].where(~hidden, None)
            texts.update(zip(ids, activity_text(frame["Subject"], body), strict=True))
            row_hashes.update(zip(ids, frame["RowHash"], strict=True))
    ids = acts["Id"].tolist()
    return pd.Series([texts[i] for i in ids], index=acts.index), [row_hashes[i] for i in ids]


def _remember(
    cache: SignalCache, acts: pd.DataFrame, row_hashes: list[str], flags: np.ndarray
) -> None:
    """Upsert these rows' flags (replacing what an older row or version left)."""
    insert: Callable[..., Any] = (
        postgresql.insert if cache.engine.dialect.name == "postgresql" else sqlite.insert
    )
    values = [
        {
            "activity_id": a,
            "notes_hidden": bool(h),
            "row_hash": r,
            "version": cache.version,
            "flags": int(f),
        }
        for a, h, r, f in zip(acts["Id"], acts["NotesHidden"], row_hashes, flags, strict=True)
    ]
    with cache.engine.begin() as conn:
        for i in range(0, len(values), 5000):
            stmt = insert(activity_signal).values(values[i : i + 5000])
            excluded = stmt.excluded
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=["activity_id", "notes_hidden"],
                    set_={
                        "row_hash": excluded.row_hash,
                        "version": excluded.version,
                        "flags": excluded.flags,
                    },
                )
            )
