"""Test-only hooks, off unless their environment variable is set.

`DEALCAST_TEST_TASK_DELAY="KIND=SECONDS[,KIND=SECONDS]"` makes every worker subtask of
that kind (`graph.state.SUBTASK_KINDS`: score, list_deals, risk, ...) sleep before its tool
runs. The crash-and-resume tests use it to hold a real server's run mid-way (after the
checkpoint of the earlier wave and the writes of sibling tasks are saved) and kill it
there. Called from one place: `graph.workers.run_tool`. Never set it in production.
"""

from __future__ import annotations

import asyncio
import os

from dealcast.graph.state import SUBTASK_KINDS

TASK_DELAY_ENV = "DEALCAST_TEST_TASK_DELAY"


def task_delays(spec: str) -> dict[str, float]:
    """`"score=30,risk=1.5"` -> {"score": 30.0, "risk": 1.5}; ValueError names bad parts."""
    out: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        kind, sep, seconds = part.partition("=")
        if not sep or kind.strip() not in SUBTASK_KINDS:
            raise ValueError(
                f"{TASK_DELAY_ENV}: {part!r} is not KIND=SECONDS with KIND one of "
                + ", ".join(SUBTASK_KINDS)
            )
        out[kind.strip()] = float(seconds)
    return out


async def delay_task(kind: str) -> None:
    spec = os.environ.get(TASK_DELAY_ENV)
    if spec:  # the common case (unset) costs one environment lookup
        seconds = task_delays(spec).get(kind)
        if seconds:
            await asyncio.sleep(seconds)
