"""A real crash: SIGKILL the importer mid-import; the store must be exactly as before."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from tests.crm.export_builder import C1, O1, U2, minimal_export, sfid, write_object
from tests.crm.store_suite import AS_OF, _crm_state


def _big_export(folder: Path, tasks: int) -> None:
    minimal_export(folder)
    write_object(
        folder,
        "Task",
        (
            {
                "Id": sfid("00T", n),
                "WhatId": O1,
                "WhoId": C1,
                "OwnerId": U2,
                "Subject": "Call",
                "Description": f"Call number {n} about the rollout plan.",
                "ActivityDate": "2025-03-01",
                "Status": "Completed",
                "TaskSubtype": "Call",
                "CreatedDate": "2025-03-01T10:00:00Z",
            }
            for n in range(tasks)
        ),
    )


def test_sigkill_mid_import_leaves_the_store_as_before(tmp_path: Path) -> None:
    db = tmp_path / "kill.db"
    store = Store.open(f"sqlite:///{db}")
    import_export(store, minimal_export(tmp_path / "small"), actor="t", as_of=AS_OF)
    before = _crm_state(store)
    store.close()

    big = tmp_path / "big"
    _big_export(big, 150_000)
    proc = subprocess.Popen(
        [sys.executable, "-m", "dealcast", "ingest", "export", str(big), "--db", str(db)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    wal = Path(f"{db}-wal")
    deadline = time.monotonic() + 60
    # Kill once the importer has written a good share of its rows (WAL pages) but not all.
    while time.monotonic() < deadline and proc.poll() is None:
        if wal.exists() and wal.stat().st_size > 4_000_000:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the import finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    reopened = Store.open(f"sqlite:///{db}")
    assert _crm_state(reopened) == before
    assert reopened.verify_audit().ok
    # and the store still works: the same import now succeeds
    report = import_export(reopened, big, actor="t", as_of=AS_OF)
    assert report.quarantined == 0 and reopened.counts()["Task"] == 150_000
