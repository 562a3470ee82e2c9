"""The chat's Salesforce sync: only when configured and asked or stale, behind a circuit
breaker, never alongside another sync, never raising."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from dealcast import sync_on_demand as on_demand
from dealcast.crm.salesforce_sync_config import SalesforceSettings
from dealcast.crm.salesforce_sync_freshness import Freshness
from dealcast.crm.store import Store
from dealcast.crm.sync_lock import held
from dealcast.graph.circuit import reset_breakers


def _sfdc(**values: Any) -> SalesforceSettings:
    return SalesforceSettings(_env_file=None, **values)  # type: ignore[call-arg]


CONFIGURED = {"username": "u@example.com", "password": "pw", "security_token": "tok"}


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    reset_breakers()
    s = Store.open(f"sqlite:///{tmp_path / 'd.db'}")
    yield s
    s.close()
    reset_breakers()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Fake sync + refresh: records what ran; `fail` in the list makes the sync raise."""
    log: list[str] = []

    def sync(store: Store, sfdc: SalesforceSettings, now: datetime) -> Any:
        log.append("sync")
        if "fail" in log:
            raise ConnectionError("Salesforce is down")
        return SimpleNamespace(
            api_calls=7, changed_opportunities=["006A"], deleted=0, mismatches=[]
        )

    def after(store: Store, report: Any, now: datetime) -> dict[str, Any]:
        log.append("refresh")
        return {"rescored": 1}

    monkeypatch.setattr(on_demand, "_sync", sync)
    monkeypatch.setattr(on_demand, "_after", after)
    return log


def test_not_configured_never_syncs(store: Store, calls: list[str]) -> None:
    out = on_demand.sync_on_demand(store, asked=True, sfdc=_sfdc())
    assert out["attempted"] is False and "no Salesforce connection" in out["reason"]
    assert calls == []


def test_fresh_data_syncs_only_when_asked(
    store: Store, calls: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    monkeypatch.setattr(on_demand, "freshness", lambda *a: Freshness(now, 5.0, False))
    out = on_demand.sync_on_demand(store, asked=False, sfdc=_sfdc(**CONFIGURED))
    assert out == {"attempted": False, "ok": None, "reason": "the synced data is fresh"}
    out = on_demand.sync_on_demand(store, asked=True, sfdc=_sfdc(**CONFIGURED))
    assert out["ok"] is True and out["rescored"] == 1 and calls == ["sync", "refresh"]


def test_stale_data_syncs_unasked(store: Store, calls: list[str]) -> None:
    # an empty store has never synced: stale
    out = on_demand.sync_on_demand(store, asked=False, sfdc=_sfdc(**CONFIGURED))
    assert out["ok"] is True and calls == ["sync", "refresh"]


def test_failures_open_the_circuit(store: Store, calls: list[str]) -> None:
    calls.append("fail")
    outcomes = [
        on_demand.sync_on_demand(store, asked=True, sfdc=_sfdc(**CONFIGURED)) for _ in range(4)
    ]
    assert [o["attempted"] for o in outcomes] == [True, True, True, False]
    assert all(o["ok"] is False for o in outcomes[:3])
    assert "ConnectionError" in outcomes[0]["reason"]
    assert outcomes[3].get("circuit") == "open" and "unavailable" in outcomes[3]["reason"]
    assert calls.count("sync") == 3 and "refresh" not in calls  # the 4th never called out


def test_a_running_sync_is_not_waited_for(store: Store, calls: list[str]) -> None:
    with held(store, "cli"):
        out = on_demand.sync_on_demand(store, asked=True, sfdc=_sfdc(**CONFIGURED))
    assert out["attempted"] is False and "already running" in out["reason"]
    assert calls == []
