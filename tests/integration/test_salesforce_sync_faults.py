"""Every emulator fault, survived as the issue specifies (real simple-salesforce client)."""

from __future__ import annotations

from pathlib import Path

import pytest
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
)
from sqlalchemy import select

from dealcast.crm.salesforce_sync import SalesforceSync
from dealcast.crm.salesforce_sync_http import RateLimited
from dealcast.crm.schema import CRM_TABLES, salesforce_sync_state
from dealcast.crm.sfdc_emulator import Emulator, Faults
from tests.integration.sfdc_fixtures import (
    CREDS,
    Sleeps,
    crm_state,
    emulator,
    fast_policy,
    open_store,
    settings,
    sfdc_export,
    synced_base,
    synced_copy,
    syncer,
)

__all__ = ["sfdc_export", "synced_base"]  # fixtures


def _emu(folder: Path, **faults: object) -> Emulator:
    return emulator(folder, Faults(seed=3, **faults))  # type: ignore[arg-type]


def test_transient_rate_limit_is_backed_off_and_survived(
    sfdc_export: Path, synced_base: Path, tmp_path: Path
) -> None:
    with _emu(sfdc_export, rate_limit_after=4, rate_limit_calls=1) as emu:
        emu.mutate(stage_changes=3)
        store = synced_copy(synced_base, tmp_path / "s.db")
        sleeps = Sleeps()
        report = syncer(store, emu, fast_policy(sleeps)).run()
        assert report.rate_limited == 1 and len(sleeps) == 1
        fresh = open_store(tmp_path / "f.db")
        syncer(fresh, emu).run(mode="full")
        assert crm_state(store) == crm_state(fresh)


def test_persistent_rate_limit_aborts_without_changing_the_store(
    sfdc_export: Path, synced_base: Path, tmp_path: Path
) -> None:
    with _emu(sfdc_export, rate_limit_after=3) as emu:
        emu.mutate(new_deals=2)
        store = synced_copy(synced_base, tmp_path / "s.db")
        before = crm_state(store)
        with pytest.raises(RateLimited):
            syncer(store, emu).run()
        assert crm_state(store) == before
        failed = store.audit_entries(action="salesforce_sync_failed")[0]
        assert failed.outputs["kind"] == "RateLimited"


def test_daily_budget_stops_before_the_org_limit(
    sfdc_export: Path, synced_base: Path, tmp_path: Path
) -> None:
    with _emu(sfdc_export) as emu:
        store = synced_copy(synced_base, tmp_path / "s.db")
        sync = SalesforceSync(
            store, settings(emu, daily_budget=60, budget_reserve=50), policy=fast_policy()
        )
        with pytest.raises(RateLimited, match="budget"):
            sync.run()
        assert emu.api_calls <= 11


def test_server_errors_and_timeouts_are_retried_with_jitter(
    sfdc_export: Path, synced_base: Path, tmp_path: Path
) -> None:
    with _emu(sfdc_export, error_rate=0.25, latency=0.25, latency_rate=0.1) as emu:
        emu.mutate(new_deals=2, stage_changes=2)
        store = synced_copy(synced_base, tmp_path / "s.db")
        sleeps = Sleeps()
        report = syncer(store, emu, fast_policy(sleeps), timeout=0.1).run()
        assert report.retries >= 2 and len(sleeps) == report.retries
        assert len(set(sleeps)) == len(sleeps)  # jittered
        emu.options.faults.error_rate = emu.options.faults.latency = 0.0
        fresh = open_store(tmp_path / "f.db")
        syncer(fresh, emu).run(mode="full")
        assert crm_state(store) == crm_state(fresh)


def test_five_attempts_then_give_up(sfdc_export: Path, tmp_path: Path) -> None:
    with _emu(sfdc_export, error_rate=1.0) as emu:
        sleeps = Sleeps()
        with pytest.raises(Exception) as info:
            syncer(open_store(tmp_path / "s.db"), emu, fast_policy(sleeps)).run()
        assert "500" in str(info.value) or "503" in str(info.value)
        assert len(sleeps) == 4  # 5 attempts


def test_expired_sessions_reauthenticate_once(sfdc_export: Path, tmp_path: Path) -> None:
    with _emu(sfdc_export, session_ttl_calls=5) as emu:
        store = open_store(tmp_path / "s.db")
        report = syncer(store, emu).run()  # bulk jobs hit the expiry: our single re-auth
        assert report.reauths >= 1
        assert emu.sessions.logins >= 2
        assert sum(len(v) for v in crm_state(store).values()) > 0


def test_expired_session_without_credentials_fails_cleanly(
    sfdc_export: Path, tmp_path: Path
) -> None:
    with _emu(sfdc_export) as emu:
        token = emu.sessions.issue()
        sync = SalesforceSync(
            open_store(tmp_path / "s.db"),
            settings(
                emu,
                username=None,
                password=None,
                security_token=None,
                session_id=token,
                instance_url=f"https://{emu.options.instance}",
            ),
            policy=fast_policy(),
        )
        emu.expire_sessions()
        with pytest.raises((SalesforceExpiredSession, RuntimeError)):
            sync.run()
        assert emu.sessions.logins == 1  # never looped on logins


def test_bad_credentials_are_a_soap_fault_and_not_retried(
    sfdc_export: Path, tmp_path: Path
) -> None:
    with _emu(sfdc_export) as emu:
        sleeps = Sleeps()
        sync = SalesforceSync(
            open_store(tmp_path / "s.db"),
            settings(emu, password="wrong"),
            policy=fast_policy(sleeps),
        )
        with pytest.raises(SalesforceAuthenticationFailed, match="INVALID_LOGIN"):
            sync.run()
        assert sleeps == []


def test_renamed_field_keeps_last_good_data_and_flags(
    sfdc_export: Path, synced_base: Path, tmp_path: Path
) -> None:
    with _emu(sfdc_export) as emu:
        store = synced_copy(synced_base, tmp_path / "s.db")
        table = CRM_TABLES["Opportunity"]
        with store.engine.connect() as conn:
            amounts = dict(conn.execute(select(table.c.Id, table.c.Amount)).all())
        emu.data.rename_field("Opportunity", "Amount", "Amount__c")
        change = emu.mutate(stage_changes=3)
        report = syncer(store, emu).run()
        assert report.mismatches == ["Opportunity.Amount"] and report.flagged
        with store.engine.connect() as conn:
            now = dict(
                conn.execute(
                    select(table.c.Id, table.c.Amount).where(table.c.Id.in_(change.stage_changed))
                ).all()
            )
            fields = conn.execute(
                select(salesforce_sync_state.c.fields).where(
                    salesforce_sync_state.c.object == "Opportunity"
                )
            ).scalar_one()
        assert {i: now[i] for i in change.stage_changed} == {
            i: amounts[i] for i in change.stage_changed
        }  # amounts kept, stages synced
        assert fields["Amount"] == "Amount"  # the last known good mapping is kept
        # a mapping for the renamed field brings it back without a mismatch
        mapping = tmp_path / "map.yaml"
        mapping.write_text("Opportunity:\n  Amount: Amount__c\n")
        mapped = syncer(store, emu, field_map_file=mapping).run()
        assert mapped.mismatches == []


def test_other_4xx_are_not_retried(sfdc_export: Path, tmp_path: Path) -> None:
    with _emu(sfdc_export) as emu:
        sleeps = Sleeps()
        sync = syncer(open_store(tmp_path / "s.db"), emu, fast_policy(sleeps))
        with pytest.raises(SalesforceMalformedRequest):
            sync._call(lambda: sync.sf.query("SELECT Id FROM Opportunity WHERE"), "bad")
        assert sleeps == []


def test_oauth_flows_against_the_token_endpoint(sfdc_export: Path, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "key.pem"
    pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with _emu(sfdc_export) as emu:
        emu.options.credentials.jwt_public_key = (
            key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )
        base = {"password": None, "security_token": None}
        jwt_sync = SalesforceSync(
            open_store(tmp_path / "j.db"),
            settings(emu, **base, consumer_key=CREDS.consumer_key, privatekey_file=pem),
        )
        assert jwt_sync.sf.query("SELECT Id FROM User")["totalSize"] == 7
        cc = SalesforceSync(
            open_store(tmp_path / "c.db"),
            settings(
                emu,
                **base,
                username=None,
                consumer_key=CREDS.consumer_key,
                consumer_secret=CREDS.consumer_secret,
                domain="dealcast-emulator.my",
            ),
        )
        assert cc.sf.query("SELECT Id FROM User")["totalSize"] == 7
        bad = SalesforceSync(
            open_store(tmp_path / "b.db"),
            settings(
                emu,
                **base,
                username=None,
                consumer_key=CREDS.consumer_key,
                consumer_secret="nope",
                domain="dealcast-emulator.my",
            ),
        )
        with pytest.raises(SalesforceAuthenticationFailed):
            _ = bad.sf
