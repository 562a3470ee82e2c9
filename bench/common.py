"""Shared helpers for the benchmark scripts: the demo org they run on, and timing."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from dealcast.crm.demo import generate_demo_org

# DEALCAST_BENCH_OUT puts the stores and results elsewhere (e.g. to rebuild the demo orgs
# from a changed generator without disturbing runs that use bench/out).
OUT = Path(os.environ.get("DEALCAST_BENCH_OUT") or Path(__file__).resolve().parent / "out")
TODAY = date(2026, 11, 25)  # fixed, so every run benchmarks the same org


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
    start = time.perf_counter()
    yield
    sink[label] = time.perf_counter() - start


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
