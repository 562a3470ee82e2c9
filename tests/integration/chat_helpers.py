"""Helpers shared by the chat server tests: who plays which caller, cut a turn short as a
crash would, and count what a scoring step leaves behind."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from langchain_core.messages import HumanMessage
from sqlalchemy import func, select

from dealcast.crm.schema import prediction
from dealcast.crm.store import Store


def callers(store: Store, as_of: Any) -> dict[str, str]:
    """User ids for the roles the tests play: `rep` (fewest open deals), `rep2` (most), `top`
    (a manager at the top of the hierarchy)."""
    snap = store.as_of(as_of)
    by_owner = snap.open_opportunities()["OwnerId"].value_counts()
    users = snap.users()
    return {
        "rep": str(by_owner.index[-1]),
        "rep2": str(by_owner.index[0]),
        "top": str(users[users["ManagerId"].isna()]["Id"].iloc[0]),
    }


def counts(store: Store) -> tuple[int, int]:
    """(prediction rows, `predict` audit entries): what a scoring step leaves behind."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(func.count()).select_from(prediction)).scalar_one()
    return int(rows), len(store.audit_entries(action="predict"))


def cut_short(client: TestClient, tid: str, owner: dict[str, Any], text: str) -> None:
    """Run a turn of `owner`'s up to (not including) `answer`, as a server stopped mid-run
    leaves it: checkpoints of the finished steps, the rest pending."""
    chat = client.app.state.dealcast.chat  # type: ignore[attr-defined]

    async def run() -> None:
        await chat.graph.ainvoke(
            {"messages": [HumanMessage(text)]},
            chat._config(tid, owner),
            context=chat._context(owner),
            interrupt_before=["answer"],
        )

    assert client.portal is not None, "use the client inside `with TestClient(...)`"
    client.portal.call(run)
