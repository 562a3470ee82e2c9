"""Test configuration: fully offline, and integration tests marked to use the network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["LANGSMITH_TRACING"] = "false"
os.environ["LANGSMITH_TEST_TRACKING"] = "false"

INTEGRATION = Path(__file__).parent / "integration"
pytest_plugins = ["tests.demo_org"]  # the shared demo-org fixture


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Unit tests run with sockets disabled (pyproject addopts); integration tests talk to
    # PostgreSQL, Redis and loopback servers, so they get sockets back.
    for item in items:
        if INTEGRATION in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.enable_socket)
