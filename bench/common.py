"""Shared helpers for the benchmark scripts: the demo org they run on, and timing."""

from __future__ import annotations

import os
import time as timer
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from dealcast.crm.demo import generate_demo_org
from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store

# DEALCAST_BENCH_OUT puts the stores and results elsewhere (e.g. to rebuild the demo orgs
# from a changed generator without disturbing runs that use bench/out).
OUT = Path(os.environ.get("DEALCAST_BENCH_OUT") or Path(__file__).resolve().parent / "out")
TODAY = date(2026, 11, 25)  # fixed, so every run benchmarks the same org
SEED = 7  # the demo org every bench uses unless asked for another


def demo_export(scale: float, seed: int = 7) -> Path:
    """The demo export at this scale, generated once and reused (bench/out is git-ignored)."""
    folder = OUT / f"demo-seed{seed}-scale{scale:g}"
    if not (folder / "Opportunity.csv").is_file():
        print(f"generating demo org scale {scale:g} into {folder} ...", flush=True)
        summary = generate_demo_org(folder, seed=seed, scale=scale, today=TODAY)
        print(f"  {summary.deals:,} deals in {summary.elapsed_seconds:.1f}s", flush=True)
    return folder


@contextmanager
def timed(label: str, sink: dict[str, float]) -> Iterator[None]:
    start = timer.perf_counter()
    yield
    sink[label] = timer.perf_counter() - start


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = timer.perf_counter()
        fn()
        times.append(timer.perf_counter() - start)
    return min(times)


def org_store(scale: float, seed: int = SEED, db: Path | None = None) -> Store:
    """The demo org's store, imported once: seed 7's is `demo-scale{scale}.db` (shared by
    scoring, ingest, risks and forecast_quality), another seed's `demo-seed{N}-scale{scale}.db`."""
    default = f"demo-scale{scale:g}.db" if seed == SEED else f"demo-seed{seed}-scale{scale:g}.db"
    path = db or OUT / default
    fresh = not path.exists()
    store = Store.open(f"sqlite:///{path}")
    if fresh:
        print(f"importing scale {scale:g} seed {seed} into {path} ...", flush=True)
        end = datetime.combine(TODAY, time(23, 59, 59))
        import_export(store, demo_export(scale, seed), actor="bench", as_of=end)
    return store
