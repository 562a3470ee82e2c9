"""The demo org: a synthetic Salesforce Data Export with a known ground truth.

`generate_demo_org(out_dir, seed=..., today=...)` writes one `<Object>.csv` per object in
`RECORD_TYPES` (the same files a Salesforce Data Export contains) plus `_truth/` with the
latent drivers of every deal and a README describing the process. Scale 1.0 is about 5,000
opportunities over the three years before `today`, sold by about 20 reps.

Output is deterministic: the same seed, scale and `today` give byte-identical files, with
any number of worker processes. The process is described in the modules' docstrings:
`latent` (drivers, outcome, timing), `lifecycle` (history), `roles` (buying group) and
`activities` (emails, calls, meetings, to-dos); `_truth/README.md` collects them.
"""

from __future__ import annotations

import csv
import os
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from dealcast.crm.demo import activities, latent, lifecycle, people, roles
from dealcast.crm.demo.chunk import CHUNK_DEALS, FORMATS, ChunkResult, run_chunk
from dealcast.crm.demo.export import LAYOUTS, check_contract, open_csv, write_people
from dealcast.crm.demo.latent import Plan
from dealcast.crm.demo.planner import make_plan
from dealcast.crm.demo.truth import DEALS_HEADER, DUPLICATES_HEADER, INJECTIONS_HEADER, README

__all__ = ["DemoSummary", "generate_demo_org"]

TRUTH_DIR = "_truth"


@dataclass(frozen=True)
class DemoSummary:
    out_dir: Path
    seed: int
    scale: float
    today: date
    counts: dict[str, int]  # rows per object file (deleted rows included)
    won: int  # opportunities closed won at `today` (deleted ones excluded)
    lost: int
    open: int
    win_rate: float  # won share of closed (not deleted) opportunities
    elapsed_seconds: float

    def as_dict(self) -> dict[str, object]:
        """JSON-ready values (the folder as a string, `today` in ISO format)."""
        return {
            "out_dir": str(self.out_dir),
            "seed": self.seed,
            "scale": self.scale,
            "today": self.today.isoformat(),
            "counts": dict(self.counts),
            "won": self.won,
            "lost": self.lost,
            "open": self.open,
            "win_rate": self.win_rate,
            "elapsed_seconds": self.elapsed_seconds,
        }

    @property
    def deals(self) -> int:
        return self.counts.get("Opportunity", 0)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


_PLAN: Plan | None = None


def _init_worker(plan: Plan) -> None:
    global _PLAN
    _PLAN = plan


def _work(index: int) -> ChunkResult:
    assert _PLAN is not None
    return run_chunk(_PLAN, index)


def _chunks(plan: Plan, workers: int) -> Iterator[ChunkResult]:
    n_chunks = -(-plan.n // CHUNK_DEALS)
    if workers <= 1 or n_chunks <= 1:
        for index in range(n_chunks):
            yield run_chunk(plan, index)
        return
    with ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(plan,)) as pool:
        yield from pool.map(_work, range(n_chunks))


def _default_workers(n_deals: int) -> int:
    if n_deals < 4000:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cpus or 1, 8))


def generate_demo_org(
    out_dir: Path,
    *,
    seed: int,
    scale: float = 1.0,
    today: date,
    workers: int | None = None,
) -> DemoSummary:
    """Write a demo Salesforce Data Export into `out_dir` (created if needed; files of the
    same names are overwritten). `workers`: processes for the per-deal simulation
    (default: one per CPU for large orgs); it never changes the output."""
    started = time.perf_counter()
    check_contract()
    out_dir = Path(out_dir)
    truth_dir = out_dir / TRUTH_DIR
    truth_dir.mkdir(parents=True, exist_ok=True)
    plan = make_plan(seed, scale, today)
    counts = write_people(plan, out_dir)
    files = {obj: open_csv(out_dir / f"{obj}.csv", LAYOUTS[obj]) for obj in FORMATS}
    files["_deals"] = open_csv(truth_dir / "deals.csv", DEALS_HEADER)
    files["_inj"] = open_csv(truth_dir / "injections.csv", INJECTIONS_HEADER)
    won = lost = still_open = 0
    try:
        for res in _chunks(plan, workers or _default_workers(plan.n)):
            for obj, text in res.csv.items():
                files[obj].write(text)
                counts[obj] = counts.get(obj, 0) + res.rows[obj]
            files["_deals"].write(res.truth)
            files["_inj"].write(res.injections)
            won, lost, still_open = won + res.won, lost + res.lost, still_open + res.open
    finally:
        for handle in files.values():
            handle.close()
    _write_duplicates(plan, truth_dir / "duplicates.csv")
    process = "\n\n".join(
        (m.__doc__ or "").strip() for m in (people, latent, lifecycle, roles, activities)
    )
    readme = README.format(seed=seed, scale=scale, today=today.isoformat(), process=process)
    (truth_dir / "README.md").write_text(readme, encoding="utf-8", newline="\n")
    counts = {obj: counts.get(obj, 0) for obj in LAYOUTS}
    return DemoSummary(
        out_dir=out_dir,
        seed=seed,
        scale=scale,
        today=today,
        counts=counts,
        won=won,
        lost=lost,
        open=still_open,
        win_rate=won / (won + lost) if won + lost else 0.0,
        elapsed_seconds=time.perf_counter() - started,
    )


def _write_duplicates(plan: Plan, path: Path) -> None:
    ct = plan.contacts
    with open_csv(path, DUPLICATES_HEADER) as handle:
        writer = csv.writer(handle)
        for original, dup in sorted(ct.dup.items()):
            ids = plan.contact_ids
            writer.writerow([ids[dup], ids[original], ct.emails[original], ct.emails[dup]])
