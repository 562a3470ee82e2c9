"""The chat's ingestion node syncs with Salesforce (the loopback emulator, through the real
simple-salesforce client) when asked, then answers from the fresh store; when Salesforce
is down it answers from the stored data and stops trying once the circuit opens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dealcast.config import get_settings
from dealcast.crm.schema import import_run
from dealcast.crm.sfdc_emulator import Emulator
from dealcast.crm.store import Store
from dealcast.graph.circuit import reset_breakers
from dealcast.tools.store import close_stores
from tests.graph.conftest import Chat, context
from tests.integration.sfdc_fixtures import (  # noqa: F401
    emulator,
    open_store,
    set_sfdc_env,
    sfdc_export,
)


@pytest.fixture
def sfdc(sfdc_export: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:  # noqa: F811
    emu = emulator(sfdc_export)
    set_sfdc_env(emu, monkeypatch)
    get_settings.cache_clear()
    reset_breakers()
    yield emu
    emu.stop()
    close_stores()
    reset_breakers()
    get_settings.cache_clear()


def _imports(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(import_run)).scalar_one())


def test_asked_sync_runs_and_the_answer_says_so(sfdc: Emulator, tmp_path: Path) -> None:
    store = open_store(tmp_path / "chat.db")  # never synced
    url = f"sqlite:///{tmp_path / 'chat.db'}"
    chat = Chat(context(url, as_of=None), thread="sync")
    state = chat.ask("sync the data with Salesforce")
    sync = state["results"]["refresh"]["output"]["sync"]
    assert sync["attempted"] and sync["ok"], sync
    assert sync["changed_deals"] is None  # a first sync is a full one
    assert _imports(store) == 1
    assert "Synced with Salesforce just now" in state["answer"]
    # asked again with nothing changed in Salesforce: an incremental sync, no deal changed
    again = chat.ask("resync please")["results"]["refresh"]["output"]["sync"]
    assert again["ok"] and again["changed_deals"] == 0
    store.close()


def test_salesforce_down_answers_from_the_store_then_stops_trying(
    sfdc: Emulator, tmp_path: Path
) -> None:
    store = open_store(tmp_path / "down.db")
    url = f"sqlite:///{tmp_path / 'down.db'}"
    sfdc.stop()  # Salesforce unreachable from now on
    chat = Chat(context(url, as_of=None), thread="down")
    outcomes = [
        chat.ask("sync with salesforce")["results"]["refresh"]["output"]["sync"] for _ in range(4)
    ]
    assert [o["attempted"] for o in outcomes] == [True, True, True, False]
    assert all(o["ok"] is False for o in outcomes[:3])
    assert outcomes[3]["circuit"] == "open"
    assert _imports(store) == 0
    store.close()
