"""Each import updates the stored data-quality counts with what it wrote: after inserts,
updates, deletions and newly resolved references they equal a full recount, and so does
the report."""

from __future__ import annotations

import shutil
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from dealcast.crm import quality_delta
from dealcast.crm.demo import generate_demo_org
from dealcast.crm.export_import import import_export
from dealcast.crm.quality import assess, count_all
from dealcast.crm.schema import import_run
from dealcast.crm.store import Store

AS_OF = datetime(2026, 3, 31, 12, 0)
GHOST = "006H99999999999ZAA"  # a deal the first import does not have yet


def _read(folder: Path, obj: str) -> pd.DataFrame:
    return pd.read_csv(folder / f"{obj}.csv", dtype=str, keep_default_na=False)


def _write(folder: Path, obj: str, frame: pd.DataFrame) -> None:
    frame.to_csv(folder / f"{obj}.csv", index=False)


def _stored(store: Store) -> tuple[dict[str, int], float]:
    with store.engine.connect() as conn:
        counts, score = conn.execute(
            select(import_run.c.counts, import_run.c.quality_score).order_by(import_run.c.id.desc())
        ).first()  # type: ignore[misc]
    return counts[quality_delta.KEY]["counts"], score


def _check(store: Store, read: int) -> None:
    counts, score = _stored(store)
    with store.engine.connect() as conn:
        full = count_all(conn)
        assert counts == full
        assert score == assess(conn, AS_OF, read, 0).score


@pytest.fixture
def export(tmp_path: Path) -> Path:
    folder = tmp_path / "v1"
    generate_demo_org(folder, seed=5, scale=0.02, today=date(2026, 3, 31))
    tasks = _read(folder, "Task")
    tasks.loc[0, "WhatId"] = GHOST  # dangling until the deal arrives
    _write(folder, "Task", tasks)
    return folder


def test_incremental_counts_equal_a_full_recount(
    export: Path, store: Store, tmp_path: Path
) -> None:
    first = import_export(store, export, actor="t", as_of=AS_OF)
    _check(store, first.rows)
    v2 = tmp_path / "v2"
    shutil.copytree(export, v2)
    opps = _read(v2, "Opportunity")
    opps.loc[0:4, "Amount"] = ""  # filled -> empty
    opps.loc[5:7, "IsDeleted"] = "true"  # deleted: fewer live rows and covered deals
    ghost = opps.iloc[[8]].assign(Id=GHOST, IsDeleted="false")  # resolves the task
    _write(v2, "Opportunity", pd.concat([opps, ghost], ignore_index=True))
    contacts = _read(v2, "Contact")
    contacts.loc[0:2, "Email"] = ""
    contacts.loc[3, "AccountId"] = "001H99999999999ZAA"  # a dangling optional reference
    _write(v2, "Contact", contacts)
    events = _read(v2, "Event")
    _write(v2, "Event", events.iloc[:-3])  # rows missing from a file are kept, not deleted
    (v2 / "EmailMessage.csv").unlink()  # an optional file left out changes nothing
    second = import_export(store, v2, actor="t", as_of=AS_OF)
    assert second.quality.score == _stored(store)[1]
    _check(store, second.rows)
    with store.engine.connect() as conn:
        counts = count_all(conn)
    # the edits moved the counts, so the check above compared something
    assert counts["resolved:Task.WhatId>Opportunity"] == counts["refs:Task.WhatId>Opportunity"]
    assert counts["resolved:Contact.AccountId>Account"] < counts["refs:Contact.AccountId>Account"]
    # a third import builds on the second's counts
    hist = _read(v2, "OpportunityHistory")
    extra = hist.iloc[[0]].assign(Id="008H99999999999ZAA", OpportunityId=GHOST)
    _write(v2, "OpportunityHistory", pd.concat([hist, extra], ignore_index=True))
    third = import_export(store, v2, actor="t", as_of=AS_OF)
    _check(store, third.rows)


def test_counts_not_built_on_the_previous_import_are_recounted(export: Path, store: Store) -> None:
    import_export(store, export, actor="t", as_of=AS_OF)
    with store.engine.begin() as conn:  # as if a concurrent import had built on another
        row_id, counts = conn.execute(select(import_run.c.id, import_run.c.counts)).first()  # type: ignore[misc]
        counts[quality_delta.KEY] = {"after": 12345, "counts": {"live:Opportunity": -1}}
        conn.execute(import_run.update().where(import_run.c.id == row_id).values(counts=counts))
        assert quality_delta.baseline(conn, row_id + 1) == (row_id, None)
    again = import_export(store, export, actor="t", as_of=AS_OF)
    _check(store, again.rows)
