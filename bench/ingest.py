"""Import throughput (rows/s) of a demo export, against a floor measured in the same run.

The floor is reading and splitting the same CSV files with Python's csv module and nothing
else: the ratio import / floor says what validation, upserts and the transaction cost.

    .venv/bin/python bench/ingest.py [--scale 10] [--db URL]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import OUT, demo_export
from dealcast.crm.export_import import import_export
from dealcast.crm.records import RECORD_TYPES
from dealcast.crm.store import Store


def floor_seconds(folder: Path) -> tuple[float, int]:
    start, rows = time.perf_counter(), 0
    for record in RECORD_TYPES:
        with (folder / f"{record.OBJECT}.csv").open(encoding="utf-8-sig", newline="") as f:
            rows += sum(1 for _ in csv.reader(f)) - 1
    return time.perf_counter() - start, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=10.0)
    parser.add_argument("--db", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    folder = demo_export(args.scale)
    db_path = OUT / f"demo-scale{args.scale:g}.db"  # bench/scoring.py reuses it
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    store = Store.open(args.db or f"sqlite:///{db_path}")
    floor, rows = floor_seconds(folder)
    as_of = datetime(2026, 11, 25, 23, 59)
    report = import_export(store, folder, actor="bench", as_of=as_of)
    start = time.perf_counter()
    again = import_export(store, folder, actor="bench", as_of=as_of)
    reimport = time.perf_counter() - start
    print(f"backend          {store.backend}")
    print(f"rows             {report.rows:,} ({rows:,} CSV records)")
    print(f"floor (csv read) {floor:.1f}s  {rows / floor:,.0f} rows/s")
    print(
        f"first import     {report.seconds:.1f}s  {report.rows_per_second:,.0f} rows/s  "
        f"({report.seconds / floor:.1f}x the floor)"
    )
    print(
        f"re-import        {reimport:.1f}s  {again.rows / reimport:,.0f} rows/s  "
        f"(unchanged: {sum(o.unchanged for o in again.objects):,} rows)"
    )
    print(f"quality score    {report.quality.score}")


if __name__ == "__main__":
    main()
