"""Each risk code on a hand-built deal: code, severity and the evidence ids and dates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from dealcast.crm.store import Store
from dealcast.risk.context import RiskContext
from dealcast.risk.detectors import detect
from dealcast.risk.models import Evidence, Risk
from tests.risk.org_builder import pattern_signals
from tests.risk.scenarios import Scenario, T, build


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Scenario, Store]]:
    root = tmp_path_factory.mktemp("risk-org")
    scenario = build()
    store = scenario.org.store(root / "export", root / "store.db")
    yield scenario, store
    store.close()


@pytest.fixture(scope="module")
def context(world: tuple[Scenario, Store]) -> RiskContext:
    return RiskContext.load(world[1], T, signals=pattern_signals())


@pytest.fixture(scope="module")
def found(context: RiskContext) -> dict[str, list[Risk]]:
    return detect(context)


@pytest.fixture(scope="module")
def s(world: tuple[Scenario, Store]) -> Scenario:
    return world[0]


def risk(found: dict[str, list[Risk]], deal: str, code: str) -> Risk:
    matches = [r for r in found[deal] if r.code == code]
    assert matches, f"{code} not flagged on {deal}: {[r.code for r in found[deal]]}"
    return matches[0]


def ids(r: Risk) -> list[str]:
    return [e.id for e in r.evidence]


def day(e: Evidence) -> str:
    assert e.date is not None
    return e.date.strftime("%Y-%m-%d")


def test_every_open_deal_is_listed_worst_first(found: dict[str, list[Risk]], s: Scenario) -> None:
    assert set(s.deals.values()) <= set(found)
    for risks in found.values():
        assert [r.rank for r in risks] == sorted((r.rank for r in risks), reverse=True)


def test_ghost_contacts_cites_the_unanswered_attempts_and_the_last_reply(
    found: dict[str, list[Risk]], s: Scenario
) -> None:
    r = risk(found, s.deals["ghost"], "ghost_contacts")
    assert r.severity == "high"  # silent since 2025-06-02: four weeks
    assert "Carla Champ (champion)" in r.message and "4 attempts" in r.message
    assert ids(r) == [
        s.ids["ghost_call"],
        s.ids["ghost_e3"],
        s.ids["ghost_e2"],
        s.ids["ghost_e1"],
        s.ids["ghost_last_reply"],
    ]
    assert [day(e) for e in r.evidence] == [
        "2025-06-20",
        "2025-06-16",
        "2025-06-09",
        "2025-06-02",
        "2025-05-12",
    ]
    assert r.evidence[0].kind == "call" and "voicemail" in r.evidence[0].quote
    # Dan kept answering: the deal is neither stalled nor single-threaded.
    assert {x.code for x in found[s.deals["ghost"]]}.isdisjoint({"stalled", "single_threaded"})


def test_ghost_contacts_without_the_champion_is_about_the_decision_maker(
    found: dict[str, list[Risk]], s: Scenario
) -> None:
    r = risk(found, s.deals["silent_exec"], "ghost_contacts")
    assert r.severity == "medium"  # the champion answers; the Economic Buyer does not
    assert "Erin Exec (decision maker)" in r.message and "never replied" in r.message
    assert len(r.evidence) == 4  # latest four attempts; there is no reply to cite
    assert ids(r)[0] == s.ids["exec_latest"] and s.ids["exec_first"] not in ids(r)
    assert day(r.evidence[0]) == "2025-06-27" and r.evidence[0].kind == "email"


def test_stalled_when_both_sides_went_quiet(found: dict[str, list[Risk]], s: Scenario) -> None:
    r = risk(found, s.deals["stalled"], "stalled")
    assert r.severity == "medium"  # 51 days without the buyer: a month or more, under two
    assert ids(r)[:2] == [s.ids["stalled_entry"], s.ids["stalled_last"]]
    assert r.evidence[0].kind == "history" and day(r.evidence[0]) == "2025-04-15"
    assert "Value Proposition" in r.evidence[0].quote
    assert day(r.evidence[1]) == "2025-05-10" and "51 days" in r.message


def test_stalled_by_org_stage_time_and_insufficient_data_on_a_thin_deal(
    found: dict[str, list[Risk]], s: Scenario, context: RiskContext
) -> None:
    assert context.stage_days.loc["Qualification", "p90"] == pytest.approx(10.0)
    deal = s.deals["stuck"]
    r = risk(found, deal, "stalled")
    assert r.severity == "high"  # 60 days in Qualification, the org's p90 is 10
    assert ids(r) == [s.ids["stuck_entry"], s.ids["stuck_task"]]
    assert "60 days in Qualification" in r.message and "within 10" in r.message
    thin = risk(found, deal, "insufficient_data")
    assert thin.severity == "low" and "only 1 activities" in thin.message
    assert ids(thin) == [deal, s.ids["stuck_task"]]
    assert thin.evidence[0].kind == "opportunity" and day(thin.evidence[1]) == "2025-05-02"
    # Activity-based verdicts are withheld instead of guessed.
    codes = {x.code for x in found[deal]}
    assert codes.isdisjoint({"ghost_contacts", "single_threaded", "negative_sentiment"})


def test_pricing_pressure_from_buyer_text_and_an_amount_cut(
    found: dict[str, list[Risk]], s: Scenario
) -> None:
    r = risk(found, s.deals["pricing"], "pricing_pressure")
    assert r.severity == "high"  # 15 % below the peak amount
    assert ids(r) == [s.ids["pricing_call"], s.ids["pricing_email"], s.ids["pricing_cut"]]
    assert [day(e) for e in r.evidence] == ["2025-06-08", "2025-06-05", "2025-06-10"]
    assert "expensive" in r.evidence[0].quote and "discount" in r.evidence[1].quote
    assert r.evidence[2].quote == "Amount 100,000 -> 85,000"


def test_single_threaded(found: dict[str, list[Risk]], s: Scenario) -> None:
    r = risk(found, s.deals["single"], "single_threaded")
    assert r.severity == "medium"  # Needs Analysis: past the first two stages, not late
    assert "Only Carla Champ" in r.message and "no one else" in r.message
    assert ids(r) == [s.ids["single_3"], s.ids["single_2"], s.ids["single_1"]]
    assert [e.kind for e in r.evidence] == ["email", "meeting", "email"]


def test_no_decision_maker_names_the_silent_economic_buyer(
    found: dict[str, list[Risk]], s: Scenario
) -> None:
    r = risk(found, s.deals["no_dm"], "no_decision_maker")
    assert r.severity == "high"  # Negotiation/Review: commit-level probability
    assert "Erin Exec (Economic Buyer)" in r.message
    assert ids(r) == [s.ids["no_dm_entry"], s.ids["no_dm_role"]]
    assert r.evidence[1].kind == "contact_role" and day(r.evidence[1]) == "2025-06-05"
    assert all(x.code != "budget_unconfirmed" for x in found[s.deals["no_dm"]])


def test_close_date_slipped_pushes_and_overdue(found: dict[str, list[Risk]], s: Scenario) -> None:
    r = risk(found, s.deals["slipped"], "close_date_slipped")
    assert r.severity == "high"  # 92 days pushed in all
    assert "pushed 2 time(s), 92 days" in r.message
    assert ids(r) == [s.ids["slip_2"], s.ids["slip_1"]]
    assert r.evidence[0].quote == "CloseDate 2025-05-31 -> 2025-07-31 (+61 days)"
    late = risk(found, s.deals["overdue"], "close_date_slipped")
    assert late.severity == "medium" and "passed 15 days ago" in late.message
    assert ids(late) == [s.deals["overdue"]] and late.evidence[0].kind == "opportunity"


def test_competitor_threat_with_a_discovered_name(
    found: dict[str, list[Risk]], s: Scenario, context: RiskContext
) -> None:
    assert "Zentrix" in context.competitors  # named in competitive phrasing in 3 deals
    r = risk(found, s.deals["competitor"], "competitor_threat")
    assert r.severity == "high"  # two mentions, the latest 5 days before T
    assert "Zentrix" in r.message
    assert ids(r) == [s.ids["comp_call"], s.ids["comp_email"]]
    assert [day(e) for e in r.evidence] == ["2025-06-25", "2025-06-20"]
    assert all("Zentrix" in e.quote for e in r.evidence)
    # "Zentrix pitched a lower price" is a competitive comparison, not a discount request.
    assert all(x.code != "pricing_pressure" for x in found[s.deals["competitor"]])


def test_budget_unconfirmed_ignores_hedged_approvals(
    found: dict[str, list[Risk]], s: Scenario
) -> None:
    r = risk(found, s.deals["budget"], "budget_unconfirmed")
    assert r.severity == "medium"  # Proposal/Price Quote, no budget trouble raised
    assert ids(r) == [s.ids["budget_entry"]] and day(r.evidence[0]) == "2025-05-01"
    assert all(x.code != "budget_unconfirmed" for x in found[s.deals["budget_done"]])


def test_negative_sentiment_trending_down(found: dict[str, list[Risk]], s: Scenario) -> None:
    r = risk(found, s.deals["negative"], "negative_sentiment")
    assert r.severity == "medium"  # two negative buyer messages in the last 30 days
    assert "down from +1.00" in r.message
    assert ids(r) == [s.ids["neg_2"], s.ids["neg_1"]]
    assert "on hold" in r.evidence[0].quote and day(r.evidence[1]) == "2025-06-10"


def test_as_dict_is_plain_json(found: dict[str, list[Risk]], s: Scenario) -> None:
    payload = risk(found, s.deals["ghost"], "ghost_contacts").as_dict()
    assert set(payload) == {"code", "severity", "message", "evidence"}
    assert payload["evidence"][0] == {
        "kind": "call",
        "id": s.ids["ghost_call"],
        "date": "2025-06-20T00:00:00",
        "quote": payload["evidence"][0]["quote"],
    }


def test_unknown_codes_and_severities_are_rejected() -> None:
    with pytest.raises(ValueError, match="valid: stalled"):
        Risk("slow", "low", "x")
    with pytest.raises(ValueError, match="valid: low, medium, high"):
        Risk("stalled", "urgent", "x")
    with pytest.raises(ValueError, match="valid: email"):
        Evidence("fax", "1", datetime(2025, 1, 1))


def test_one_deal_gets_the_same_risks_as_in_the_pipeline_run(
    world: tuple[Scenario, Store], found: dict[str, list[Risk]], s: Scenario
) -> None:
    deal = s.deals["competitor"]
    alone = detect(RiskContext.load(world[1], T, [deal], signals=pattern_signals()))
    assert list(alone) == [deal] and alone[deal] == found[deal]


def test_risks_at_t_ignore_everything_dated_after_t(
    tmp_path: Path, found: dict[str, list[Risk]]
) -> None:
    from tests.risk.scenarios import after_t

    later = build()
    after_t(later)
    store = later.org.store(tmp_path / "export", tmp_path / "later.db")
    try:
        assert detect(RiskContext.load(store, T, signals=pattern_signals())) == found
        # ...while the later data does change the verdicts once it is known.
        moved = detect(RiskContext.load(store, datetime(2025, 7, 15), signals=pattern_signals()))
        assert all(r.code != "ghost_contacts" for r in moved[later.deals["ghost"]])
    finally:
        store.close()
