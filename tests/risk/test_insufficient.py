"""Thin data: an org that logs no activity gets insufficient_data, not guesses."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from dealcast.risk.context import RiskContext
from dealcast.risk.detectors import detect
from tests.risk.org_builder import Org, pattern_signals
from tests.risk.scenarios import T


def test_no_activity_means_insufficient_data_and_only_stated_facts(tmp_path: Path) -> None:
    org = Org()
    org.contact("Ann", "Buyer")
    early, _ = org.deal("Early", [("2025-05-01", "Needs Analysis", 1000, "2025-09-30")])
    late, history = org.deal("Late", [("2025-03-01", "Negotiation/Review", 1000, "2025-09-30")])
    store = org.store(tmp_path / "export", tmp_path / "store.db")
    try:
        found = detect(RiskContext.load(store, T, signals=pattern_signals()))
        assert detect(RiskContext.load(store, datetime(2024, 1, 1))) == {}
    finally:
        store.close()
    assert [r.code for r in found[early]] == ["insufficient_data"]
    thin = found[early][0]
    assert thin.severity == "low" and "only 0 activities" in thin.message
    assert [(e.kind, e.id) for e in thin.evidence] == [("opportunity", early)]
    # The CRM states outright that no Decision Maker is on the late deal; whether the
    # budget was approved cannot be read from an empty activity log.
    codes = [r.code for r in found[late]]
    assert codes == ["no_decision_maker", "insufficient_data"]
    assert found[late][0].evidence[0].id == history[0]
