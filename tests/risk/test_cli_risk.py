"""`dealcast risks` (cmd_risks): JSON for every open deal, table views, bad --deal."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from dealcast.cli_risk import cmd_risks
from tests.risk.scenarios import Scenario, build

AS_OF = "2025-06-30"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Scenario, str]:
    root = tmp_path_factory.mktemp("risk-cli")
    scenario = build()
    scenario.org.store(root / "export", root / "store.db").close()
    return scenario, str(root / "store.db")


def invoke(*args: str) -> tuple[int, str, BaseException | None]:
    app = typer.Typer(pretty_exceptions_enable=False)
    app.command()(cmd_risks)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output, result.exception


def test_json_lists_every_open_deal_with_its_risks(world: tuple[Scenario, str]) -> None:
    scenario, db = world
    code, out, _ = invoke("--db", db, "--as-of", AS_OF, "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["as_of"].startswith("2025-06-30T23:59:59")
    deals = {d["opportunity_id"]: d for d in payload["deals"]}
    assert set(scenario.deals.values()) <= set(deals)
    assert all(set(d) == {"opportunity_id", "name", "stage", "risks"} for d in deals.values())
    ghost = deals[scenario.deals["ghost"]]
    assert ghost["name"] == "Ghost"
    first = next(r for r in ghost["risks"] if r["code"] == "ghost_contacts")
    assert first["severity"] == "high"
    assert first["evidence"][0]["id"] == scenario.ids["ghost_call"]
    assert first["evidence"][0]["date"] == "2025-06-20T00:00:00"


def test_table_views(world: tuple[Scenario, str]) -> None:
    scenario, db = world
    code, out, _ = invoke("--db", db, "--as-of", AS_OF)
    assert code == 0 and "open deals at risk" in out
    code, out, _ = invoke("--db", db, "--as-of", AS_OF, "--deal", scenario.deals["pricing"])
    assert code == 0 and "pricing_pressure" in out


def test_one_deal_json(world: tuple[Scenario, str]) -> None:
    scenario, db = world
    deal = scenario.deals["slipped"]
    code, out, _ = invoke("--db", db, "--as-of", AS_OF, "--deal", deal, "--format", "json")
    assert code == 0
    payload = json.loads(out)
    assert [d["opportunity_id"] for d in payload["deals"]] == [deal]
    assert "close_date_slipped" in {r["code"] for r in payload["deals"][0]["risks"]}


def test_unknown_or_closed_deal_is_bad_input(world: tuple[Scenario, str]) -> None:
    _, db = world
    code, _, exc = invoke("--db", db, "--as-of", AS_OF, "--deal", "006000000000999AAA")
    assert code != 0 and isinstance(exc, ValueError)
    assert "no open deal 006000000000999AAA" in str(exc)
