"""Text-signal flags found by activity row (`activity_signals.row_flags`, scoring a few deals)
are the flags of each activity's text at T: the same as reading and hashing the texts, and
an edited text or notes hidden at T are never served another text's flags."""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from dealcast.crm.activities import activity_frame
from dealcast.crm.export_import import import_export
from dealcast.crm.schema import activity_signal
from dealcast.crm.store import Store
from dealcast.ml import activity_signals, feature_inputs
from dealcast.risk.text_patterns import TextSignals
from tests.demo_org import DemoOrg, copy_store

MASKED, SIGNALS = ["Price", "Budget"], TextSignals()
PRICING = "Could you send over pricing? We would need a discount to get this approved."


def _flags(store: Store, t: datetime, ids: list[str], text: bool) -> pd.DataFrame:
    """Flags at t from the texts (`text`) or found by row, as `FeatureInputs.load` does."""
    snap = store.as_of(t, ids)
    cache = activity_signals.SignalCache(store.engine, SIGNALS, MASKED, snap.as_of)
    acts = activity_frame(snap, text=text, join=None if text else cache.join)
    flags = feature_inputs._signal_flags(cache, snap, acts)
    return flags.set_axis(acts["Id"].to_numpy()).sort_index()


def _nothing_left(*_: object, **__: object) -> None:
    raise AssertionError("every activity's flags should have been found by its row")


@pytest.fixture
def store(demo_org: DemoOrg, tmp_path: Path) -> Store:
    return copy_store(demo_org.store, tmp_path / "rows.db")


def _open_ids(store: Store, t: datetime, n: int = 40) -> list[str]:
    return sorted(store.as_of(t).open_opportunities()["Id"])[:n]


def test_rows_find_the_flags_of_their_text(
    store: Store, demo_org: DemoOrg, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _open_ids(store, demo_org.as_of)
    by_text = _flags(store, demo_org.as_of, ids, text=True)
    cold = _flags(store, demo_org.as_of, ids, text=False)  # reads the texts, stores by row
    monkeypatch.setattr(activity_signals, "cached_signals", _nothing_left)
    warm = _flags(store, demo_org.as_of, ids, text=False)
    assert len(by_text) > 100 and by_text.to_numpy().any()
    pd.testing.assert_frame_equal(cold, by_text)
    pd.testing.assert_frame_equal(warm, by_text)


def _export_with(
    demo_org: DemoOrg, folder: Path, name: str, edit: Callable[[list[dict[str, str]]], None]
) -> Path:
    """A copy of the demo export with `edit` applied to `name`.csv's rows."""
    shutil.copytree(demo_org.folder, folder)
    path = folder / f"{name}.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    edit(rows)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_an_edited_text_is_detected(store: Store, demo_org: DemoOrg, tmp_path: Path) -> None:
    t = demo_org.as_of
    ids = _open_ids(store, t)
    before = _flags(store, t, ids, text=False)  # every row's flags stored
    quiet = before.index[~before["pricing"].to_numpy()]
    emails = [i for i in quiet if i.startswith("02s")]
    assert emails

    def edit(rows: list[dict[str, str]]) -> None:
        for row in rows:
            if row["Id"] == emails[0]:
                row["TextBody"] = PRICING  # an edit that keeps the id, dates and subject

    folder = _export_with(demo_org, tmp_path / "export", "EmailMessage", edit)
    import_export(store, folder, actor="t", as_of=t)
    after = _flags(store, t, ids, text=False)
    assert bool(after.loc[emails[0], "pricing"])
    pd.testing.assert_frame_equal(after, _flags(store, t, ids, text=True))
    assert (after.drop(index=emails[0]) == before.drop(index=emails[0])).all().all()


def test_notes_hidden_at_t_are_cached_apart(
    store: Store, demo_org: DemoOrg, tmp_path: Path
) -> None:
    """A task planned for later shows only its subject until its day: its flags then are
    stored beside those of its full text, and each T gets its own."""
    t = demo_org.as_of
    ids = _open_ids(store, t)
    planned = {
        "Id": "00TH0000009999ZMAA",
        "IsDeleted": "false",
        "WhatId": ids[0],
        "WhoId": "",
        "OwnerId": "",
        "Subject": "Call with procurement",
        "Description": PRICING,
        "ActivityDate": (t - timedelta(days=5)).date().isoformat(),
        "Status": "Completed",
        "TaskSubtype": "Call",
        "CreatedDate": (t - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }
    folder = _export_with(demo_org, tmp_path / "export", "Task", lambda rows: rows.append(planned))
    import_export(store, folder, actor="t", as_of=t)
    early = t - timedelta(days=10)  # planned by then, but its notes are not written yet
    for when in (early, t, early):  # alternating: each reuses what the other stored
        by_text = _flags(store, when, ids, text=True)
        pd.testing.assert_frame_equal(_flags(store, when, ids, text=False), by_text)
        assert bool(by_text.loc[planned["Id"], "pricing"]) == (when == t)
    a = activity_signal.c
    with store.engine.connect() as conn:
        kept = conn.execute(select(a.notes_hidden).where(a.activity_id == planned["Id"])).all()
    assert sorted(r[0] for r in kept) == [False, True]
