"""The test-only task delay hook: parsed strictly, off (no sleep at all) unless set."""

from __future__ import annotations

import asyncio

import pytest

from dealcast.graph import testing_hooks
from dealcast.graph.testing_hooks import TASK_DELAY_ENV, delay_task, task_delays


def test_spec_is_parsed_and_bad_parts_name_the_kinds() -> None:
    assert task_delays("score=30, risk=1.5,") == {"score": 30.0, "risk": 1.5}
    with pytest.raises(ValueError, match=r"'scoring=3' is not KIND=SECONDS.*list_deals"):
        task_delays("scoring=3")
    with pytest.raises(ValueError, match="not KIND=SECONDS"):
        task_delays("score")


def test_sleeps_only_for_the_named_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(testing_hooks.asyncio, "sleep", fake_sleep)
    monkeypatch.delenv(TASK_DELAY_ENV, raising=False)
    asyncio.run(delay_task("score"))
    monkeypatch.setenv(TASK_DELAY_ENV, "list_deals=45")
    asyncio.run(delay_task("score"))
    asyncio.run(delay_task("list_deals"))
    assert slept == [45.0]
