"""Benchmark: demo org generation speed.

    .venv/bin/python bench/demo_gen.py                  # scale 4 (20k deals) and 10 (50k)
    .venv/bin/python bench/demo_gen.py --scale 1 --workers 1 --keep /tmp/demo

Generates each scale into a temporary folder (or `--keep DIR`) and prints wall time,
deals per second, rows per object and the output size.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import date
from pathlib import Path

from dealcast.crm.demo import DemoSummary, generate_demo_org


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def run(scale: float, seed: int, today: date, workers: int | None, keep: Path | None) -> None:
    with tempfile.TemporaryDirectory(prefix="dealcast-demo-") as tmp:
        folder = (keep / f"scale{scale:g}") if keep else Path(tmp)
        summary: DemoSummary = generate_demo_org(
            folder, seed=seed, scale=scale, today=today, workers=workers
        )
        secs = summary.elapsed_seconds
        print(
            f"scale {scale:g}: {summary.deals:,} deals in {secs:.1f} s "
            f"({summary.deals / secs:,.0f} deals/s, {summary.rows / secs:,.0f} rows/s), "
            f"{_size(folder) / 1e6:,.0f} MB"
        )
        for obj, count in summary.counts.items():
            print(f"  {obj:<24}{count:>12,}")
        print(
            f"  won {summary.won:,}  lost {summary.lost:,}  open {summary.open:,}  "
            f"win rate {summary.win_rate:.1%}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[4.0, 10.0])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--today", type=date.fromisoformat, default=date(2025, 6, 30))
    parser.add_argument("--workers", type=int, default=None, help="default: automatic")
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep")
    args = parser.parse_args()
    for scale in args.scale:
        run(scale, args.seed, args.today, args.workers, args.keep)


if __name__ == "__main__":
    main()
