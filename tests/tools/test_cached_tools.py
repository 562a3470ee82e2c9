"""The chat tools' caches on a real store: same output as the uncached computation at the
same instant, reused within the hour and data version, recomputed after an import or when
the hour rolls over, and never answering with a later instant than asked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from dealcast.crm.export_import import import_export
from dealcast.crm.store import Store
from dealcast.jsonable import to_jsonable
from dealcast.tools import deals, forecast, ingestion, risks
from dealcast.tools.store import close_stores
from tests.crm.export_builder import minimal_export
from tests.demo_org import DemoOrg, copy_store

T0 = datetime(2026, 6, 30, 15, 5)
T1 = datetime(2026, 6, 30, 15, 40)
NEXT_HOUR = datetime(2026, 6, 30, 16, 2)


@pytest.fixture
def store(demo_org: DemoOrg, tmp_path: Path) -> Iterator[Store]:
    close_stores()  # empty every cache: nothing computed by another test is reused
    copy = copy_store(demo_org.store, tmp_path / "org.db")
    yield copy
    copy.close()
    close_stores()


def _deal_ids(store: Store, n: int) -> list[str]:
    top = store.as_of(T0).open_opportunities().nlargest(n, "Amount")
    return [str(i) for i in top["Id"]]


def test_risks_and_scores_match_the_uncached_computation(store: Store) -> None:
    ids = _deal_ids(store, 2)
    found = risks.deal_risks_impl(store, T0, ids)
    assert found == to_jsonable(risks._deal_risks(store, T0, ids))
    assert risks.deal_risks_impl(store, T1, ids) == found  # a hit, still as of T0
    assert found["as_of"] == to_jsonable(T0)
    scored = deals.score_deals_impl(store, T0, ids)
    assert scored == deals._score_deals(store, T0, ids, None, "chat")
    assert deals.score_deals_impl(store, T1, ids) == scored
    assert (risks.RISKS.hits, deals.SCORES.hits) == (1, 1)


def test_a_forecast_matches_the_uncached_one_and_serves_every_scope(store: Store) -> None:
    label = "2026-Q3"
    cached = forecast.forecast_period_impl(store, T0, "quarter", label, n_sims=300)
    from dealcast.config import get_settings
    from dealcast.sim.pipeline import forecast as sim_forecast

    n = forecast.periods_needed(T0, "quarter", label)
    fiscal = get_settings().fiscal_start_month
    plain = sim_forecast(store, T0, "quarter", n, 7, n_sims=300, fiscal_start_month=fiscal)
    row = forecast._period_row(plain["periods"], label)
    assert cached["expected"] == to_jsonable(row["expected"])
    assert cached["p10"] == to_jsonable(row["p10"]) and cached["p90"] == to_jsonable(row["p90"])
    assert cached["by_owner"] == to_jsonable(row["by_owner"])
    owner = row["by_owner"][0]["owner_id"]
    scoped = forecast.forecast_period_impl(
        store, T1, "quarter", label, owner_ids=[owner], n_sims=300
    )
    assert [r["owner_id"] for r in scoped["by_owner"]] == [owner]
    assert scoped["as_of"] == cached["as_of"] and scoped["expected"] == cached["expected"]
    assert forecast.FORECASTS.hits == 1 and forecast.PIPELINE.misses == 1


def test_an_import_or_the_next_hour_recomputes(store: Store, tmp_path: Path) -> None:
    first = ingestion.data_freshness_impl(store, T0)
    assert ingestion.data_freshness_impl(store, T1) == first
    import_export(store, minimal_export(tmp_path / "more"), actor="test", as_of=T1)
    after_import = ingestion.data_freshness_impl(store, T1)
    assert after_import["last_import_id"] != first["last_import_id"]
    assert after_import["as_of"] == to_jsonable(T1)
    next_hour = ingestion.data_freshness_impl(store, NEXT_HOUR)
    assert next_hour["as_of"] == to_jsonable(NEXT_HOUR)
    assert ingestion.FRESHNESS.misses == 3


def test_never_a_later_instant_than_asked(store: Store) -> None:
    later = deals.load_directory(store, T1)
    earlier = deals.load_directory(store, T0)
    assert later["as_of"] == T1.isoformat() and earlier["as_of"] == T0.isoformat()
    assert deals.load_directory(store, datetime(2026, 6, 30, 15, 50))["as_of"] == T1.isoformat()
