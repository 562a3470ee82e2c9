"""Shared pieces for the Salesforce sync tests: a small demo export, emulators, settings,
and a comparable view of the CRM tables."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from dealcast.crm.demo import generate_demo_org
from dealcast.crm.salesforce_sync import SalesforceSync
from dealcast.crm.salesforce_sync_config import SalesforceSettings
from dealcast.crm.salesforce_sync_http import RetryPolicy
from dealcast.crm.schema import CRM_TABLES
from dealcast.crm.sfdc_emulator import Credentials, Emulator, EmulatorOptions, Faults
from dealcast.crm.store import Store

CREDS = Credentials()


@pytest.fixture(scope="session")
def sfdc_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 deals (14 open), ~2,000 records: every sync test does full syncs, so the org is
    as small as keeps enough open deals for the mutations the tests make."""
    folder = tmp_path_factory.mktemp("sfdc") / "export"
    generate_demo_org(folder, seed=6, scale=0.008, today=date(2026, 6, 30))
    return folder


def emulator(folder: Path, faults: Faults | None = None, **options: Any) -> Emulator:
    return Emulator(folder, EmulatorOptions(faults=faults or Faults(), **options)).start()


@pytest.fixture
def emu(sfdc_export: Path) -> Iterator[Emulator]:
    e = emulator(sfdc_export)
    yield e
    e.stop()


def set_sfdc_env(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point `DEALCAST_SFDC_*` (what `SalesforceSettings()` reads) at the emulator."""
    for key, value in {
        "USERNAME": CREDS.username,
        "PASSWORD": CREDS.password,
        "SECURITY_TOKEN": CREDS.security_token,
        "LOOPBACK": emu.url,
        "BULK_POLL_SECONDS": "0.01",
        "TIMEOUT": "5",
    }.items():
        monkeypatch.setenv(f"DEALCAST_SFDC_{key}", value)


def settings(emu: Emulator, **overrides: Any) -> SalesforceSettings:
    values: dict[str, Any] = {
        "username": CREDS.username,
        "password": CREDS.password,
        "security_token": CREDS.security_token,
        "loopback": emu.url,
        "bulk_poll_seconds": 0.01,
        "timeout": 5.0,
    }
    values.update(overrides)
    return SalesforceSettings(_env_file=None, **values)  # type: ignore[call-arg]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def fast_policy(sleeps: Sleeps | None = None) -> RetryPolicy:
    return RetryPolicy(
        base_delay=0.001, rate_limit_delay=0.001, sleep=sleeps if sleeps is not None else Sleeps()
    )


def syncer(
    store: Store, emu: Emulator, policy: RetryPolicy | None = None, **kw: Any
) -> SalesforceSync:
    return SalesforceSync(store, settings(emu, **kw), policy=policy or fast_policy())


@pytest.fixture(scope="session")
def synced_base(sfdc_export: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite store after one full sync of the untouched export (copy it per test)."""
    path = tmp_path_factory.mktemp("sfdc-base") / "base.db"
    e = emulator(sfdc_export)
    try:
        store = open_store(path)
        syncer(store, e).run()
        store.close()
    finally:
        e.stop()
    return path


def synced_copy(base: Path, target: Path) -> Store:
    shutil.copyfile(base, target)
    return open_store(target)


_EMPTY: list[Path] = []  # one migrated, empty store per session, copied for fresh stores


def open_store(path: Path) -> Store:
    """A store at `path`; a new one is a copy of an empty migrated store (migrating every
    fresh store costs more than a small sync)."""
    if not path.exists():
        if not _EMPTY:
            template = Path(tempfile.mkdtemp(prefix="dealcast-empty-store-")) / "empty.db"
            Store.open(f"sqlite:///{template}").close()
            _EMPTY.append(template)
        shutil.copyfile(_EMPTY[0], path)
    return Store.open(f"sqlite:///{path}")


def crm_state(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every CRM row without the bookkeeping import id (which differs between runs)."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.engine.connect() as conn:
        for name, table in CRM_TABLES.items():
            cols = [c for c in table.c if c.name != "_import_id"]
            out[name] = sorted(tuple(r) for r in conn.execute(select(*cols)))
    return out
