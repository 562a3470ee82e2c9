"""The emulator's pieces without sockets: SOQL subset, REST pages, Bulk 2.0 jobs, auth."""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from pathlib import Path

import pytest

from dealcast.crm.demo import generate_demo_org
from dealcast.crm.sfdc_emulator.auth import Credentials, Sessions, oauth_token, soap_login
from dealcast.crm.sfdc_emulator.data import OrgData
from dealcast.crm.sfdc_emulator.faults import Faults, FaultState
from dealcast.crm.sfdc_emulator.mutations import mutate
from dealcast.crm.sfdc_emulator.rest import ApiError, RestApi
from dealcast.crm.sfdc_emulator.soql import SoqlError, parse


@pytest.fixture(scope="module")
def org(tmp_path_factory: pytest.TempPathFactory) -> OrgData:
    folder = tmp_path_factory.mktemp("emu") / "export"
    generate_demo_org(folder, seed=2, scale=0.015, today=date(2026, 6, 30))
    return OrgData.load(folder)


def _ids(org: OrgData, soql: str, deleted: bool = False) -> list[str]:
    return [r["Id"] for r in parse(soql, org).run(deleted)]


def test_soql_where_and_or_parentheses_order_limit(org: OrgData) -> None:
    opps = org.tables["Opportunity"].records.values()
    won_big = sorted(
        (r for r in opps if r["StageName"] == "Closed Won" and (r["Amount"] or 0) > 50000),
        key=lambda r: -r["Amount"],
    )
    got = _ids(
        org,
        "select Id from opportunity where (stagename = 'closed won' and Amount > 50000) "
        "order by Amount desc limit 3",
    )
    assert got == [r["Id"] for r in won_big[:3]]
    since = "2025-01-01T00:00:00Z"
    recent = _ids(
        org, f"SELECT Id FROM Opportunity WHERE SystemModstamp > {since} OR CloseDate >= 2026-01-01"
    )
    assert recent and all(
        r["SystemModstamp"].year >= 2025 or r["CloseDate"] >= date(2026, 1, 1)
        for r in opps
        if r["Id"] in set(recent)
    )
    one = next(iter(opps))["Id"]
    assert _ids(org, f"SELECT Id FROM Opportunity WHERE Id IN ('{one[:15]}')") == [one]
    assert _ids(org, "SELECT Id FROM Opportunity WHERE Name LIKE '%zzzz%'") == []


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        (
            "SELECT Id FROM Opportunity WHERE Amount > 1 AND Amount < 5 OR Amount = 3",
            "MALFORMED_QUERY",
        ),
        ("SELECT Id FROM Opportunity WHERE CloseDate = TODAY", "MALFORMED_QUERY"),
        ("SELECT COUNT() FROM Opportunity", "MALFORMED_QUERY"),
        ("SELECT Account.Name FROM Opportunity", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity GROUP BY Id", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE CreatedDate > 2024-01-01", "MALFORMED_QUERY"),
        ("SELECT Id FROM Opportunity WHERE Amount > '5'", "MALFORMED_QUERY"),
        ("SELECT Nope FROM Opportunity", "INVALID_FIELD"),
        ("SELECT Id FROM Lead", "INVALID_TYPE"),
    ],
)
def test_soql_rejects_what_it_does_not_support(org: OrgData, soql: str, code: str) -> None:
    with pytest.raises(SoqlError) as info:
        parse(soql, org)
    assert info.value.code == code


def test_rest_query_pages_of_2000_with_next_records_url(org: OrgData) -> None:
    api = RestApi(org, "59.0", 2000, 1, 50_000)
    total = sum(not r["IsDeleted"] for r in org.tables["EmailMessage"].records.values())
    assert total > 2000  # query leaves deleted rows out (queryAll keeps them)
    first = json.loads(
        api.handle("GET", "query", "q=SELECT+Id+FROM+EmailMessage", b"", (1, 5)).body
    )
    assert first["totalSize"] == total and not first["done"] and len(first["records"]) == 2000
    assert first["records"][0]["attributes"]["type"] == "EmailMessage"
    url = first["nextRecordsUrl"]
    assert url.startswith("/services/data/v59.0/query/")
    rest = url.split("/services/data/v59.0/")[1]
    second = json.loads(api.handle("GET", rest, "", b"", (2, 5)).body)
    assert len(second["records"]) == min(2000, total - 2000)
    with pytest.raises(ApiError) as info:
        api.handle("GET", "query", "q=SELECT+Id+FROM", b"", (3, 5))
    assert info.value.status == 400


def test_bulk_query_job_states_and_csv_locators(org: OrgData) -> None:
    api = RestApi(org, "59.0", 2000, 1, 1000)
    body = json.dumps({"operation": "queryAll", "query": "SELECT Id, IsDeleted FROM Task"})
    job = json.loads(api.handle("POST", "jobs/query", "", body.encode(), (1, 5)).body)
    assert job["state"] == "UploadComplete"
    assert (
        json.loads(api.handle("GET", f"jobs/query/{job['id']}", "", b"", (1, 5)).body)["state"]
        == "InProgress"
    )
    assert (
        json.loads(api.handle("GET", f"jobs/query/{job['id']}", "", b"", (1, 5)).body)["state"]
        == "JobComplete"
    )
    locator, rows = "", 0
    while locator != "null":
        page = api.handle(
            "GET",
            f"jobs/query/{job['id']}/results",
            f"maxRecords=50000&locator={locator}",
            b"",
            (1, 5),
        )
        assert page.content_type == "text/csv"
        records = list(csv.DictReader(io.StringIO(page.body.decode())))
        assert int(page.headers["Sforce-NumberOfRecords"]) == len(records) <= 1000
        rows += len(records)
        locator = page.headers["Sforce-Locator"]
    assert rows == len(org.tables["Task"].records)


def test_soap_login_and_fault_and_oauth_errors() -> None:
    creds, sessions = Credentials(), Sessions()
    ok = (
        f"<env:Body><n1:login><n1:username>{creds.username}</n1:username><n1:password>"
        f"{creds.password}{creds.security_token}</n1:password></n1:login></env:Body>"
    )
    status, xml = soap_login(ok, creds, sessions, "x.my.salesforce.com", "59.0")
    assert status == 200 and "<sessionId>" in xml and "<serverUrl>https://x.my" in xml
    status, xml = soap_login(ok.replace(creds.password, "bad"), creds, sessions, "x", "59.0")
    assert status == 500 and "<sf:exceptionCode>INVALID_LOGIN</sf:exceptionCode>" in xml
    status, payload = oauth_token("grant_type=magic", None, creds, sessions, "x")
    assert status == 400 and payload["error"] == "unsupported_grant_type"


def test_faults_rate_limit_window_and_seeded_errors() -> None:
    state = FaultState(Faults(rate_limit_after=2, rate_limit_calls=2))
    assert [state.decide(n).status for n in (1, 2, 3, 3, 3)] == [0, 0, 403, 403, 0]
    a = [FaultState(Faults(error_rate=0.5, seed=9)).decide(1).status for _ in range(1)]
    b = [FaultState(Faults(error_rate=0.5, seed=9)).decide(1).status for _ in range(1)]
    assert a == b


def test_mutations_write_history_and_deletions(tmp_path: Path, org: OrgData) -> None:
    before = len(org.tables["OpportunityHistory"].records)
    change = mutate(org, new_deals=2, stage_changes=3, deletions=1)
    assert len(change.created) == 2 and len(change.stage_changed) == 3
    assert len(org.tables["OpportunityHistory"].records) == before + 5
    assert org.tables["Opportunity"].records[change.deleted[0]]["IsDeleted"] is True
    assert [d.id for d in org.deletions["Opportunity"]] == change.deleted


def test_modstamp_queries_use_the_index_and_match_a_scan(org: OrgData) -> None:
    records = org.tables["Opportunity"].records
    stamps = sorted(r["SystemModstamp"] for r in records.values())
    since = stamps[len(stamps) // 2]
    mutate(org, new_deals=1, stage_changes=2, deletions=1)
    text = since.strftime("%Y-%m-%dT%H:%M:%SZ")
    indexed = parse(f"SELECT Id FROM Opportunity WHERE SystemModstamp >= {text}", org)
    assert getattr(indexed.where, "modstamp_floor", None) == since
    # an OR with an unbounded branch scans the object: the same rows either way
    scanned = parse(
        f"SELECT Id FROM Opportunity WHERE (SystemModstamp >= {text} OR Name = null)", org
    )
    assert getattr(scanned.where, "modstamp_floor", None) is None
    expected = {i for i, r in records.items() if r["SystemModstamp"] >= since or r["Name"] is None}
    assert {r["Id"] for r in indexed.run(True)} == expected
    assert {r["Id"] for r in scanned.run(True)} == expected
    both = parse(
        f"SELECT Id FROM Opportunity WHERE SystemModstamp > {text} AND IsDeleted = false", org
    )
    assert {r["Id"] for r in both.run(True)} == {
        i for i, r in records.items() if r["SystemModstamp"] > since and not r["IsDeleted"]
    }


def test_bulk_job_results_are_the_records_when_the_job_ran(org: OrgData) -> None:
    api = RestApi(org, "59.0", 2000, 0, 50_000)
    body = json.dumps({"operation": "queryAll", "query": "SELECT Id, StageName FROM Opportunity"})
    job = json.loads(api.handle("POST", "jobs/query", "", body.encode(), (1, 5)).body)
    before = {i: r["StageName"] for i, r in org.tables["Opportunity"].records.items()}
    change = mutate(org, stage_changes=2)
    assert any(
        org.tables["Opportunity"].records[i]["StageName"] != before[i] for i in change.stage_changed
    )
    api.handle("GET", f"jobs/query/{job['id']}", "", b"", (1, 5))
    page = api.handle("GET", f"jobs/query/{job['id']}/results", "", b"", (1, 5))
    rows = {r["Id"]: r["StageName"] for r in csv.DictReader(io.StringIO(page.body.decode()))}
    assert rows == before
