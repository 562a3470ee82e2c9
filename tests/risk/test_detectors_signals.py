"""The earlier and stated signals: chases (ghost_contacts), on-hold statements and omitted
forecasts (stalled), and threading read from the contact roles (single_threaded).

One hand-built org, judged at the scenarios' T (2025-06-30, end of day); each test pairs a
deal that must be flagged with near misses that must not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from dealcast.crm.store import Store
from dealcast.risk.context import RiskContext
from dealcast.risk.detectors import detect
from dealcast.risk.models import Risk
from tests.risk.org_builder import Org, pattern_signals
from tests.risk.scenarios import T

CHASE = "Hi Carla, I haven't heard back, so I wanted to make sure this didn't get lost."
OPENER = "Following up on our last conversation. The deck is attached."
ON_HOLD = "Priorities have shifted, we may need to revisit next quarter."


@dataclass
class World:
    org: Org = field(default_factory=Org)
    deals: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


def _engaged(org: Org, deal: str, who: str, days: tuple[str, ...]) -> None:
    for day in days:
        org.email(deal, day, who, "Thanks, that helps.", True)


def _ghosting(w: World, carla: str) -> None:
    org = w.org
    chased, _ = org.deal("Chased", [("2025-05-01", "Needs Analysis", 40000, "2025-09-30")])
    w.deals["chased"] = chased
    org.role(chased, carla, "Business User", True, "2025-05-01")
    _engaged(org, chased, carla, ("2025-05-10", "2025-05-20"))
    w.ids["chased_reply"] = org.meeting(chased, "2025-06-05", carla, "Workshop with Carla.")
    w.ids["chased_opener"] = org.email(chased, "2025-06-20", carla, OPENER, False)
    w.ids["chased_chase"] = org.email(chased, "2025-06-25", carla, CHASE, False)
    # The same chase sent yesterday: people answer within a couple of working days.
    fresh, _ = org.deal("Fresh chase", [("2025-05-01", "Needs Analysis", 40000, "2025-09-30")])
    w.deals["fresh"] = fresh
    org.role(fresh, carla, "Business User", True, "2025-05-01")
    _engaged(org, fresh, carla, ("2025-05-10", "2025-05-20", "2025-06-05"))
    org.email(fresh, "2025-06-10", carla, OPENER, False)  # an opener, not a chase
    org.email(fresh, "2025-06-30", carla, CHASE, False)


def _threading(w: World, carla: str, dan: str) -> None:
    org = w.org
    thin, _ = org.deal("One contact", [("2025-06-01", "Prospecting", 5000, "2025-09-30")])
    w.deals["one_contact"] = thin
    w.ids["one_contact_role"] = org.role(thin, carla, "Business User", True, "2025-06-01")
    org.email(thin, "2025-06-02", carla, "Thanks for your interest, here is our overview.", False)
    two, _ = org.deal("Second thread", [("2025-05-01", "Needs Analysis", 9000, "2025-09-30")])
    w.deals["second_thread"] = two
    org.role(two, carla, "Business User", True, "2025-05-01")
    org.role(two, dan, "Technical Buyer", False, "2025-06-20")  # listed, not engaged yet
    _engaged(org, two, carla, ("2025-05-10", "2025-05-20", "2025-06-05"))
    young, _ = org.deal("Young", [("2025-06-23", "Prospecting", 9000, "2025-09-30")])
    w.deals["young"] = young
    org.role(young, carla, "Business User", True, "2025-06-23")
    _engaged(org, young, carla, ("2025-06-24", "2025-06-25", "2025-06-26"))


def _stalls(w: World, carla: str, dan: str) -> None:
    org = w.org
    steps = [
        ("2025-04-01", "Prospecting", 30000, "2025-09-30"),
        ("2025-05-01", "Value Proposition", 30000, "2025-09-30"),
    ]
    hold, history = org.deal("On hold", steps)
    w.deals["on_hold"], w.ids["on_hold_entry"] = hold, history[1]
    org.role(hold, carla, "Business User", True, "2025-04-01")
    org.role(hold, dan, "Technical Buyer", False, "2025-04-01")
    _engaged(org, hold, dan, ("2025-05-05", "2025-05-12", "2025-06-20"))
    w.ids["on_hold_said"] = org.email(hold, "2025-06-25", carla, ON_HOLD, True)
    # Said, then the buyer took part three times: the deal is moving again.
    revived, _ = org.deal("Revived", steps)
    w.deals["revived"] = revived
    org.role(revived, carla, "Business User", True, "2025-04-01")
    org.role(revived, dan, "Technical Buyer", False, "2025-04-01")
    org.email(revived, "2025-06-01", carla, ON_HOLD, True)
    _engaged(org, revived, dan, ("2025-06-10", "2025-06-20", "2025-06-27"))
    # Said before the last stage change: old news.
    moved, _ = org.deal(
        "Moved on", [*steps, ("2025-06-15", "Perception Analysis", 30000, "2025-09-30")]
    )
    w.deals["moved_on"] = moved
    org.role(moved, carla, "Business User", True, "2025-04-01")
    org.role(moved, dan, "Technical Buyer", False, "2025-04-01")
    org.email(moved, "2025-06-01", carla, ON_HOLD, True)
    _engaged(org, moved, dan, ("2025-06-20", "2025-06-27"))
    # The owner took the deal out of the forecast; the buyer is still around.
    omitted, history = org.deal("Omitted", steps)
    w.deals["omitted"] = omitted
    org.role(omitted, carla, "Business User", True, "2025-04-01")
    org.role(omitted, dan, "Technical Buyer", False, "2025-04-01")
    _engaged(org, omitted, dan, ("2025-06-10", "2025-06-20", "2025-06-27"))
    w.ids["omitted_row"] = org.history(
        omitted, "2025-06-12", "Value Proposition", 30000, "2025-09-30"
    )
    for row in org.rows["OpportunityHistory"]:
        if row["Id"] == w.ids["omitted_row"]:
            row["ForecastCategory"] = "Omitted"
    for row in org.rows["Opportunity"]:
        if row["Id"] == omitted:
            row["ForecastCategoryName"] = "Omitted"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[World, Store]]:
    root = tmp_path_factory.mktemp("risk-signals")
    w = World()
    carla, dan = w.org.contact("Carla", "Champ"), w.org.contact("Dan", "Dev")
    _ghosting(w, carla)
    _threading(w, carla, dan)
    _stalls(w, carla, dan)
    store = w.org.store(root / "export", root / "store.db")
    yield w, store
    store.close()


@pytest.fixture(scope="module")
def found(world: tuple[World, Store]) -> dict[str, list[Risk]]:
    return detect(RiskContext.load(world[1], T, signals=pattern_signals()))


@pytest.fixture(scope="module")
def w(world: tuple[World, Store]) -> World:
    return world[0]


def codes(found: dict[str, list[Risk]], deal: str) -> set[str]:
    return {r.code for r in found[deal]}


def risk(found: dict[str, list[Risk]], deal: str, code: str) -> Risk:
    matches = [r for r in found[deal] if r.code == code]
    assert matches, f"{code} not flagged on {deal}: {[r.code for r in found[deal]]}"
    return matches[0]


def test_an_unanswered_chase_is_ghosting_before_the_attempts_pile_up(
    found: dict[str, list[Risk]], w: World
) -> None:
    r = risk(found, w.deals["chased"], "ghost_contacts")
    # Two attempts and no call: the attempt counts alone would wait for five.
    assert r.severity == "medium"  # the champion, 10 days and 2 attempts: not yet high
    assert "Carla Champ (champion)" in r.message and "2 attempts" in r.message
    assert [e.id for e in r.evidence] == [
        w.ids["chased_chase"],
        w.ids["chased_opener"],
        w.ids["chased_reply"],
    ]
    assert "heard back" in r.evidence[0].quote


def test_a_chase_sent_yesterday_and_an_opener_are_not_ghosting(
    found: dict[str, list[Risk]], w: World
) -> None:
    assert "ghost_contacts" not in codes(found, w.deals["fresh"])


def test_single_threaded_from_the_roles_on_a_thin_deal(
    found: dict[str, list[Risk]], w: World
) -> None:
    deal = w.deals["one_contact"]
    r = risk(found, deal, "single_threaded")
    assert r.severity == "low"  # Prospecting
    assert "Only Carla Champ is on the deal" in r.message and "not replied" in r.message
    assert [(e.kind, e.id) for e in r.evidence] == [("contact_role", w.ids["one_contact_role"])]
    # The activity-based checks still withhold their verdicts.
    assert "insufficient_data" in codes(found, deal)
    assert "ghost_contacts" not in codes(found, deal)


def test_a_listed_colleague_or_a_young_deal_is_not_single_threaded(
    found: dict[str, list[Risk]], w: World
) -> None:
    assert "single_threaded" not in codes(found, w.deals["second_thread"])
    assert "single_threaded" not in codes(found, w.deals["young"])  # a week old
    assert "single_threaded" in codes(found, w.deals["chased"])  # Carla alone for two months


def test_stalled_when_the_buyer_says_it_is_on_hold(found: dict[str, list[Risk]], w: World) -> None:
    r = risk(found, w.deals["on_hold"], "stalled")
    assert r.severity == "medium"
    assert "on hold since 2025-06-25" in r.message and "no reply" not in r.message
    assert [e.id for e in r.evidence][:2] == [w.ids["on_hold_entry"], w.ids["on_hold_said"]]
    assert "Priorities have shifted" in r.evidence[1].quote


def test_an_on_hold_statement_expires_with_revival_or_a_stage_change(
    found: dict[str, list[Risk]], w: World
) -> None:
    assert "stalled" not in codes(found, w.deals["revived"])
    assert "stalled" not in codes(found, w.deals["moved_on"])


def test_stalled_when_the_owner_omitted_it_from_the_forecast(
    found: dict[str, list[Risk]], w: World
) -> None:
    r = risk(found, w.deals["omitted"], "stalled")
    assert r.severity == "medium" and "omitted it from the forecast" in r.message
    assert r.evidence[0].kind == "history"
