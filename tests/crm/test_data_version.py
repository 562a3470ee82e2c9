"""`Store.data_version()`: changes with every import, sync (deletions included), model and
quota change; not when we write predictions, features, forecast snapshots or audit rows."""

from __future__ import annotations

import csv
import time
from datetime import datetime
from pathlib import Path

from dealcast.crm.export_import import ImportRun, import_export
from dealcast.crm.store import Store
from dealcast.ml.feature_store import FeatureStore
from dealcast.ml.scoring import score
from dealcast.sim.pipeline import forecast
from dealcast.sim.quotas import load_quotas
from tests.crm.export_builder import O1, U2, minimal_export

AS_OF = datetime(2025, 6, 1, 12, 0)


def _imported(store: Store, tmp_path: Path) -> Path:
    folder = minimal_export(tmp_path / "export")
    import_export(store, folder, actor="test", as_of=AS_OF)
    return folder


def test_every_import_changes_it(store: Store, tmp_path: Path) -> None:
    empty = store.data_version()
    folder = _imported(store, tmp_path)
    first = store.data_version()
    assert first != empty
    # a deletion arrives with the next export: the deal is flagged IsDeleted
    path = folder / "Opportunity.csv"
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    for row in rows:
        if row["Id"] == O1:
            row["IsDeleted"] = "true"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    import_export(store, folder, actor="test", as_of=AS_OF)
    assert O1 not in set(store.as_of(AS_OF).opportunities()["Id"])
    assert store.data_version() not in (empty, first)


def test_a_salesforce_sync_changes_it(store: Store, tmp_path: Path) -> None:
    folder = _imported(store, tmp_path)
    before = store.data_version()
    with store.engine.begin() as conn:  # what SalesforceSync._write commits around its data
        run = ImportRun(conn, store, folder, "sync", AS_OF, None, kind="salesforce")
        run.finish([], time.perf_counter(), action="salesforce_sync")
    assert store.data_version() != before


def test_our_own_outputs_leave_it_alone(store: Store, tmp_path: Path) -> None:
    _imported(store, tmp_path)
    before = store.data_version()
    score(store, AS_OF, actor="test")  # predictions + audit (and materialised features)
    FeatureStore(store).features(AS_OF, [O1])
    forecast(store, AS_OF, "quarter", 1, seed=7, n_sims=200, actor="test")  # snapshot
    store.record_audit(actor="test", action="chat_answer_blocked", subject="thread t", outputs={})
    assert store.data_version() == before


def test_quotas_change_it(store: Store, tmp_path: Path) -> None:
    _imported(store, tmp_path)
    before = store.data_version()
    quotas = tmp_path / "quotas.csv"
    quotas.write_text(f"QuotaOwnerId,StartDate,QuotaAmount\n{U2},2025-04-01,100000\n")
    load_quotas(store, quotas, actor="test")
    assert store.data_version() != before
