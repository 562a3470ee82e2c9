"""Train, score (features, text-signal cache, registry, predictions), risks and forecast on
PostgreSQL: every table the ML path writes, on the production database."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy import func, select

from dealcast.cli_ml import train_model
from dealcast.cli_risk import risk_rows
from dealcast.crm.export_import import import_export
from dealcast.crm.schema import deal_features, prediction, text_signal
from dealcast.crm.store import Store
from dealcast.ml import scoring
from dealcast.ml.registry import Registry
from dealcast.sim.pipeline import forecast
from tests.demo_org import DemoOrg
from tests.ml.test_activity_rollup import _exact, _ids, _summed


def _count(store: Store, table: Any) -> int:
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_ml_path_on_postgres(store: Store, demo_org: DemoOrg) -> None:
    import_export(store, demo_org.folder, actor="t", as_of=demo_org.as_of)
    # activities summed per deal in PostgreSQL (`activity_rollup`): cold (every text read),
    # then warm (flags found in SQL), both equal to the features from every row
    ids = _ids(store, demo_org.as_of, 120)
    exact = _exact(store, demo_org.as_of, ids)
    for _ in ("cold", "warm"):
        summed, _inputs = _summed(store, demo_org.as_of, ids)
        pd.testing.assert_frame_equal(summed, exact)
    result, message = train_model(store, demo_org.as_of, "t")
    assert result is not None, message
    risks = {r["opportunity_id"]: r["risks"] for r in risk_rows(store, demo_org.as_of)}
    batch = scoring.score(store, demo_org.as_of, risks=risks)
    assert batch.model_version == "1.0.0" and batch.fallback is None
    assert _count(store, prediction) == len(batch.deals) > 0
    assert _count(store, deal_features) == len(batch.deals)
    assert _count(store, text_signal) > 0
    # a second run reuses the materialised features and the cached text signals
    again = scoring.score(store, demo_org.as_of, risks=risks)
    assert [d.win_probability for d in again.deals] == [d.win_probability for d in batch.deals]

    registry = Registry(store.engine, "t")
    train_model(store, demo_org.as_of, "t")
    registry.promote("1.1.0")
    assert registry.rollback().version == "1.0.0"

    result_f = forecast(store, demo_org.as_of, "quarter", 1, seed=5, n_sims=500)
    assert result_f["periods"][0]["method"] == "monte_carlo"
    assert store.verify_audit().ok
