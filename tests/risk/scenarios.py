"""One hand-built org with a deal per risk code, judged at T = 2025-06-30 (end of day).

Each scenario records the ids the detectors must cite as evidence. `after_t` adds rows
dated after T, which must not change anything at T.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from tests.risk.org_builder import Org

T = datetime(2025, 6, 30, 23, 59, 59)


@dataclass
class Scenario:
    org: Org = field(default_factory=Org)
    deals: dict[str, str] = field(default_factory=dict)
    ids: dict[str, str] = field(default_factory=dict)


def build() -> Scenario:
    s = Scenario()
    org = s.org
    carla, dan, erin = (
        org.contact("Carla", "Champ"),
        org.contact("Dan", "Dev"),
        org.contact("Erin", "Exec", "CFO"),
    )
    _ghost(s, carla, dan)
    _silent_exec(s, carla, erin)
    _stalled(s, carla)
    _stuck_thin(s, carla)
    _pricing(s, carla, dan)
    _single(s, carla)
    _no_dm(s, carla, dan, erin)
    _slipped(s, carla)
    _competitor(s, carla, dan)
    _budget(s, carla, dan)
    _negative(s, carla, dan)
    # 25 completed Qualification spells of 10 days: the org's p90 for that stage is 10.
    org.closed_spells("Qualification", 25, 10, date(2025, 1, 1))
    return s


def _ghost(s: Scenario, carla: str, dan: str) -> None:
    org = s.org
    deal, _ = org.deal("Ghost", [("2025-04-01", "Needs Analysis", 40000, "2025-09-30")])
    s.deals["ghost"] = deal
    org.role(deal, carla, "Business User", True, "2025-04-01")
    org.role(deal, dan, "Technical Buyer", False, "2025-04-01")
    org.email(deal, "2025-05-08", carla, "Thanks for the overview, happy to continue.", True)
    s.ids["ghost_last_reply"] = org.meeting(deal, "2025-05-12", carla, "Workshop with Carla.")
    org.meeting(deal, "2025-06-24", dan, "Technical session with Dan.")
    org.email(deal, "2025-06-25", dan, "Dan here, the API notes look fine.", True)
    s.ids["ghost_e1"] = org.email(deal, "2025-06-02", carla, "Following up on our workshop.", False)
    s.ids["ghost_e2"] = org.email(deal, "2025-06-09", carla, "Any thoughts on the plan?", False)
    s.ids["ghost_e3"] = org.email(deal, "2025-06-16", carla, "Checking in again.", False)
    s.ids["ghost_call"] = org.call(deal, "2025-06-20", carla, "Called Carla. Left voicemail.")


def _silent_exec(s: Scenario, carla: str, erin: str) -> None:
    org = s.org
    deal, _ = org.deal("Silent exec", [("2025-04-01", "Value Proposition", 80000, "2025-10-31")])
    s.deals["silent_exec"] = deal
    org.role(deal, carla, "Business User", True, "2025-04-01")
    org.role(deal, erin, "Economic Buyer", False, "2025-05-01")
    for day in ("2025-06-05", "2025-06-15", "2025-06-25"):
        org.email(deal, day, carla, "Happy to help with the business case.", True)
    attempts = [
        org.email(deal, day, erin, "Would you have 20 minutes for the business case?", False)
        for day in ("2025-06-01", "2025-06-08", "2025-06-14", "2025-06-21", "2025-06-27")
    ]
    s.ids["exec_latest"], s.ids["exec_first"] = attempts[-1], attempts[0]


def _stalled(s: Scenario, carla: str) -> None:
    org = s.org
    deal, history = org.deal(
        "Stalled",
        [
            ("2025-03-01", "Prospecting", 30000, "2025-09-30"),
            ("2025-04-15", "Value Proposition", 30000, "2025-09-30"),
        ],
    )
    s.deals["stalled"], s.ids["stalled_entry"] = deal, history[1]
    org.role(deal, carla, "Business User", True, "2025-03-01")
    org.email(deal, "2025-04-20", carla, "Thanks, we will review internally.", True)
    org.email(deal, "2025-05-01", carla, "Sending the requirements list.", True)
    s.ids["stalled_last"] = org.meeting(deal, "2025-05-10", carla, "Requirements review.")


def _stuck_thin(s: Scenario, carla: str) -> None:
    org = s.org
    deal, history = org.deal("Stuck", [("2025-05-01", "Qualification", 20000, "2025-09-30")])
    s.deals["stuck"], s.ids["stuck_entry"] = deal, history[0]
    s.ids["stuck_task"] = org.todo(deal, "2025-05-02", carla, "Send intro deck.")


def _pricing(s: Scenario, carla: str, dan: str) -> None:
    org = s.org
    deal, history = org.deal(
        "Pricing",
        [
            ("2025-04-01", "Proposal/Price Quote", 100000, "2025-07-31"),
            ("2025-06-10", "Proposal/Price Quote", 85000, "2025-07-31"),
        ],
    )
    s.deals["pricing"], s.ids["pricing_cut"] = deal, history[1]
    org.role(deal, carla, "Business User", True, "2025-04-01")
    org.meeting(deal, "2025-05-20", dan, "Security review with Dan.")
    s.ids["pricing_email"] = org.email(
        deal, "2025-06-05", carla, "Could you give us a 20% discount? It is a lot for us.", True
    )
    s.ids["pricing_call"] = org.call(deal, "2025-06-08", carla, "Carla says we are too expensive.")


def _single(s: Scenario, carla: str) -> None:
    org = s.org
    deal, _ = org.deal("Single", [("2025-05-15", "Needs Analysis", 25000, "2025-10-31")])
    s.deals["single"] = deal
    org.role(deal, carla, "Business User", True, "2025-05-15")
    s.ids["single_1"] = org.email(deal, "2025-06-10", carla, "Happy to set up a demo.", True)
    s.ids["single_2"] = org.meeting(deal, "2025-06-18", carla, "Demo for Carla.")
    s.ids["single_3"] = org.email(deal, "2025-06-26", carla, "The demo was useful.", True)


def _no_dm(s: Scenario, carla: str, dan: str, erin: str) -> None:
    org = s.org
    deal, history = org.deal(
        "No DM",
        [
            ("2025-03-01", "Proposal/Price Quote", 60000, "2025-08-31"),
            ("2025-06-01", "Negotiation/Review", 60000, "2025-08-31"),
        ],
    )
    s.deals["no_dm"], s.ids["no_dm_entry"] = deal, history[1]
    org.role(deal, carla, "Business User", True, "2025-03-01")
    s.ids["no_dm_role"] = org.role(deal, erin, "Economic Buyer", False, "2025-06-05")
    org.meeting(deal, "2025-06-10", carla, "Contract walkthrough.")
    org.meeting(deal, "2025-06-12", dan, "Integration plan.")
    org.email(deal, "2025-06-20", carla, "Budget is approved, legal is reviewing.", True)


def _slipped(s: Scenario, carla: str) -> None:
    org = s.org
    deal, history = org.deal(
        "Slipped",
        [
            ("2025-03-01", "Needs Analysis", 45000, "2025-04-30"),
            ("2025-04-20", "Needs Analysis", 45000, "2025-05-31"),
            ("2025-05-25", "Needs Analysis", 45000, "2025-07-31"),
        ],
    )
    s.deals["slipped"], s.ids["slip_1"], s.ids["slip_2"] = deal, history[1], history[2]
    overdue, _ = org.deal("Overdue", [("2025-05-01", "Needs Analysis", 9000, "2025-06-15")])
    s.deals["overdue"] = overdue
    for day in ("2025-06-20", "2025-06-24", "2025-06-27"):
        org.email(overdue, day, carla, "Working through it on our side.", True)
        org.email(deal, day, carla, "Still reviewing.", True)


def _competitor(s: Scenario, carla: str, dan: str) -> None:
    org = s.org
    deal, _ = org.deal("Competitor", [("2025-04-01", "Value Proposition", 70000, "2025-09-30")])
    s.deals["competitor"] = deal
    s.ids["comp_email"] = org.email(
        deal, "2025-06-20", carla, "Full transparency: we are also evaluating Zentrix.", True
    )
    s.ids["comp_call"] = org.call(deal, "2025-06-25", dan, "Zentrix pitched a lower price.")
    # Two other deals use the same name in competitive phrasing: Zentrix is discovered.
    for i in (1, 2):
        other, _ = org.deal(f"Other {i}", [("2025-05-01", "Qualification", 5000, "2025-09-30")])
        org.email(other, "2025-05-20", dan, "We had a demo from Zentrix last week.", True)


def _budget(s: Scenario, carla: str, dan: str) -> None:
    org = s.org
    open_q, history = org.deal(
        "Budget open", [("2025-05-01", "Proposal/Price Quote", 50000, "2025-08-31")]
    )
    s.deals["budget"], s.ids["budget_entry"] = open_q, history[0]
    org.meeting(open_q, "2025-05-20", carla, "Proposal walkthrough.")
    org.call(open_q, "2025-06-03", dan, "Dan reviewed the integration steps.")
    org.email(open_q, "2025-06-10", carla, "How do we get the budget approved on our side?", True)
    done, _ = org.deal("Budget done", [("2025-05-01", "Proposal/Price Quote", 50000, "2025-08-31")])
    s.deals["budget_done"] = done
    org.meeting(done, "2025-05-20", carla, "Proposal walkthrough.")
    org.call(done, "2025-06-03", dan, "Dan reviewed the integration steps.")
    org.email(done, "2025-06-10", dan, "Good news: the budget is approved.", True)


def _negative(s: Scenario, carla: str, dan: str) -> None:
    org = s.org
    deal, _ = org.deal("Negative", [("2025-03-01", "Value Proposition", 35000, "2025-09-30")])
    s.deals["negative"] = deal
    org.email(deal, "2025-04-15", carla, "This looks great, the team is excited.", True)
    org.email(deal, "2025-05-01", dan, "Great session, we love the roadmap.", True)
    s.ids["neg_1"] = org.email(
        deal, "2025-06-10", carla, "Unfortunately we are disappointed with the delays.", True
    )
    s.ids["neg_2"] = org.email(
        deal, "2025-06-20", dan, "The project is on hold for now, it is not a priority.", True
    )


def after_t(s: Scenario) -> None:
    """Rows dated after T that would change every verdict if they leaked into T."""
    org, d = s.org, s.deals
    carla = org.rows["Contact"][0]["Id"]
    erin = org.rows["Contact"][2]["Id"]
    org.email(d["ghost"], "2025-07-02", carla, "Sorry for the silence, back now.", True)
    org.history(d["stalled"], "2025-07-03", "Negotiation/Review", 30000, "2025-12-31")
    org.history(d["pricing"], "2025-07-05", "Proposal/Price Quote", 60000, "2025-07-31")
    org.role(d["single"], erin, "Economic Buyer", False, "2025-07-01")
    org.meeting(d["single"], "2025-07-03", erin, "Exec alignment with Erin.")
    org.meeting(d["no_dm"], "2025-07-03", erin, "Exec sign-off with Erin.")
    org.history(d["slipped"], "2025-07-10", "Needs Analysis", 45000, "2025-12-31")
    org.email(d["budget"], "2025-07-05", carla, "Budget is approved now.", True)
    org.email(d["negative"], "2025-07-06", carla, "We are excited to move forward.", True)
    org.email(d["stuck"], "2025-07-02", carla, "Let us talk next week.", True)
    org.call(d["competitor"], "2025-07-04", carla, "They chose us over Zentrix.")
