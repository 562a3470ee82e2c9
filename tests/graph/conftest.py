"""Graph tests: a private copy of the shared demo org and a helper to run turns."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver

from dealcast.graph.builder import build_graph
from dealcast.graph.context import Context
from dealcast.tools.store import close_stores
from tests.demo_org import DemoOrg, copy_store

ADMIN = "005L00000000001IAA"  # Liam Morris, top of the hierarchy
CAMILLE = "005L00000000003IAA"  # a rep


@pytest.fixture(scope="module")
def org_url(demo_org: DemoOrg, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    path: Path = tmp_path_factory.mktemp("graph") / "org.db"
    copy_store(demo_org.store, path).close()
    yield f"sqlite:///{path}"
    close_stores()


def context(url: str, **kw: Any) -> Context:
    base: dict[str, Any] = {
        "database_url": url,
        "user_id": ADMIN,
        "role": "admin",
        "as_of": "2026-06-30",
        "n_sims": 500,
        "node_timeout_s": 60.0,  # the risk detectors take seconds on a loaded CI box
    }
    return Context(**(base | kw))


class Chat:
    """A compiled graph and one thread; `ask` runs a turn and returns the final state."""

    def __init__(self, ctx: Context, saver: Any = None, thread: str = "t1", **build: Any):
        self.graph = build_graph(**build).compile(checkpointer=saver or InMemorySaver())
        self.ctx = ctx
        self.config = {"configurable": {"thread_id": thread}}

    async def aask(self, text: str) -> dict[str, Any]:
        return await self.graph.ainvoke(
            {"messages": [HumanMessage(text)]}, self.config, context=self.ctx
        )

    def ask(self, text: str) -> dict[str, Any]:
        return asyncio.run(self.aask(text))
