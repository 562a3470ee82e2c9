"""The demo org generator: contract, consistency, determinism and the latent drivers."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from datetime import date, datetime
from itertools import pairwise
from pathlib import Path

import pytest

from dealcast.crm.demo import DemoSummary, generate_demo_org
from dealcast.crm.demo.names import COMPETITORS
from dealcast.crm.records import KEY_PREFIX, RECORD_TYPES, RECORDS_BY_OBJECT
from dealcast.crm.stages import STANDARD_STAGES

TODAY = date(2025, 6, 15)
CUTOFF = datetime(2025, 6, 15)
Rows = list[dict[str, str]]
ROLES = {
    "Decision Maker", "Economic Buyer", "Evaluator", "Influencer", "Technical Buyer",
    "Business User", "Executive Sponsor", "Other",
}  # fmt: skip
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE_RE = re.compile(r"\(?\d{3}\)?[ -]555[ -]01\d\d")


def read(folder: Path, name: str) -> Rows:
    with (folder / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def dt(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.000Z")


class Org:
    def __init__(self, folder: Path, summary: DemoSummary) -> None:
        self.folder, self.summary = folder, summary
        self.t = {r.OBJECT: read(folder, f"{r.OBJECT}.csv") for r in RECORD_TYPES}
        self.truth = {r["OpportunityId"]: r for r in read(folder, "_truth/deals.csv")}
        self.opps = {o["Id"]: o for o in self.t["Opportunity"]}
        self.by_opp: dict[str, dict[str, Rows]] = defaultdict(lambda: defaultdict(list))
        for obj, key in (
            ("OpportunityHistory", "OpportunityId"),
            ("OpportunityContactRole", "OpportunityId"),
            ("Task", "WhatId"),
            ("Event", "WhatId"),
            ("EmailMessage", "RelatedToId"),
        ):
            for row in self.t[obj]:
                self.by_opp[row[key]][obj].append(row)

    def live(self) -> list[dict[str, str]]:
        return [o for o in self.t["Opportunity"] if o["IsDeleted"] == "false"]

    def text_of(self, opp: str) -> str:
        rows = self.by_opp[opp]
        parts = [f"{r['Subject']}\n{r['TextBody']}" for r in rows["EmailMessage"]]
        parts += [f"{r['Subject']}\n{r['Description']}" for r in rows["Task"] + rows["Event"]]
        return "\n".join(parts)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Org:
    folder = tmp_path_factory.mktemp("small")
    return Org(folder, generate_demo_org(folder, seed=7, scale=0.1, today=TODAY))


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Org:
    folder = tmp_path_factory.mktemp("medium")
    return Org(folder, generate_demo_org(folder, seed=3, scale=0.5, today=TODAY))


def _bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.csv"))}


def test_deterministic_for_a_seed_and_any_worker_count(tmp_path: Path) -> None:
    generate_demo_org(tmp_path / "a", seed=11, scale=0.1, today=TODAY)
    generate_demo_org(tmp_path / "b", seed=11, scale=0.1, today=TODAY, workers=2)
    generate_demo_org(tmp_path / "c", seed=12, scale=0.1, today=TODAY)
    a, b, c = _bytes(tmp_path / "a"), _bytes(tmp_path / "b"), _bytes(tmp_path / "c")
    assert len(a) == 12 and a == b
    assert all(a[name] != c[name] for name in a)


def test_deterministic_across_interpreters(tmp_path: Path) -> None:
    """No dependence on str hashing (PYTHONHASHSEED) or anything else per process."""
    generate_demo_org(tmp_path / "here", seed=5, scale=0.02, today=TODAY)
    code = (
        "import sys, datetime, pathlib; from dealcast.crm.demo import generate_demo_org; "
        "generate_demo_org(pathlib.Path(sys.argv[1]), seed=5, scale=0.02, "
        "today=datetime.date(2025, 6, 15))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "there")], check=True, env=env)
    assert _bytes(tmp_path / "here") == _bytes(tmp_path / "there")


def test_files_headers_and_summary(small: Org) -> None:
    for record in RECORD_TYPES:
        with (small.folder / f"{record.OBJECT}.csv").open(encoding="utf-8", newline="") as f:
            assert next(csv.reader(f)) == record.field_names()
        assert small.summary.counts[record.OBJECT] == len(small.t[record.OBJECT]) > 0
    summary = small.summary
    assert summary.counts["Opportunity"] == 500 and summary.out_dir == small.folder
    assert summary.won + summary.lost + summary.open == len(small.live())
    assert summary.elapsed_seconds > 0
    assert json.loads(json.dumps(summary.as_dict()))["counts"] == summary.counts
    assert (small.folder / "_truth" / "README.md").is_file()


def test_sales_team(medium: Org) -> None:
    users = medium.t["User"]
    reports: dict[str, int] = defaultdict(int)
    for u in users:
        reports[u["ManagerId"]] += 1
    vp = [u["Id"] for u in users if not u["ManagerId"]]
    assert len(vp) == 1
    managers = [u["Id"] for u in users if u["ManagerId"] == vp[0]]
    assert managers and all(4 <= reports[m] <= 6 for m in managers)
    assert 1 <= sum(u["IsActive"] == "false" for u in users) <= 3
    assert all(EMAIL_RE.fullmatch(u["Email"]) for u in users)


def test_accounts_and_contacts_predate_their_deals(small: Org) -> None:
    accounts = {a["Id"]: a for a in small.t["Account"]}
    contacts = {c["Id"]: c for c in small.t["Contact"]}
    for opp in small.t["Opportunity"]:
        assert accounts[opp["AccountId"]]["CreatedDate"] < opp["CreatedDate"]
    for role in small.t["OpportunityContactRole"]:
        assert contacts[role["ContactId"]]["CreatedDate"] <= role["CreatedDate"]
    titles = {c["Title"] for c in contacts.values()}
    assert {"CFO", "Head of Procurement", "IT Director"} & titles


def test_every_row_validates_against_the_records(small: Org) -> None:
    for obj, rows in small.t.items():
        model = RECORDS_BY_OBJECT[obj]
        for row in rows:
            model.model_validate({k: (v if v != "" else None) for k, v in row.items()})


def test_ids_have_key_prefix_and_are_unique(small: Org) -> None:
    for obj, rows in small.t.items():
        ids = [r["Id"] for r in rows]
        assert len(set(ids)) == len(ids), obj
        assert all(len(i) == 18 and i.isalnum() and i.startswith(KEY_PREFIX[obj]) for i in ids)


def test_references_resolve(small: Org) -> None:
    ids = {obj: {r["Id"] for r in rows} for obj, rows in small.t.items()}
    refs = [
        ("User", "ManagerId", "User"),
        ("Account", "OwnerId", "User"),
        ("Contact", "AccountId", "Account"),
        ("Opportunity", "AccountId", "Account"),
        ("Opportunity", "OwnerId", "User"),
        ("OpportunityHistory", "OpportunityId", "Opportunity"),
        ("OpportunityHistory", "CreatedById", "User"),
        ("OpportunityContactRole", "OpportunityId", "Opportunity"),
        ("OpportunityContactRole", "ContactId", "Contact"),
        ("Task", "WhatId", "Opportunity"),
        ("Task", "WhoId", "Contact"),
        ("Task", "OwnerId", "User"),
        ("Event", "WhatId", "Opportunity"),
        ("Event", "WhoId", "Contact"),
        ("Event", "OwnerId", "User"),
        ("EmailMessage", "RelatedToId", "Opportunity"),
    ]
    for obj, field, target in refs:
        values = {r[field] for r in small.t[obj]} - {""}
        assert values and values <= ids[target], (obj, field)
    for obj in ("Opportunity", "OpportunityHistory", "OpportunityContactRole", "Task", "Event"):
        required = {"Opportunity": "AccountId", "OpportunityContactRole": "ContactId"}
        field = required.get(obj, "WhatId" if obj in ("Task", "Event") else "OpportunityId")
        assert all(r[field] for r in small.t[obj])


def test_history_matches_opportunity(small: Org) -> None:
    stages = {s.name: s for s in STANDARD_STAGES.stages}
    for opp in small.t["Opportunity"]:
        hist = small.by_opp[opp["Id"]]["OpportunityHistory"]
        assert hist[0]["CreatedDate"] == opp["CreatedDate"]
        times = [dt(h["CreatedDate"]) for h in hist]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert times[-1] < CUTOFF
        last = hist[-1]
        for o_field, h_field in (
            ("StageName", "StageName"),
            ("Amount", "Amount"),
            ("CloseDate", "CloseDate"),
            ("Probability", "Probability"),
            ("ForecastCategoryName", "ForecastCategory"),
        ):
            assert opp[o_field] == last[h_field], (opp["Id"], o_field)
        assert opp["LastModifiedDate"] == opp["SystemModstamp"] == last["CreatedDate"]
        stage = stages[opp["StageName"]]
        assert opp["IsClosed"] == str(stage.is_closed).lower()
        assert opp["IsWon"] == str(stage.is_won).lower()
        if stage.is_closed:
            assert opp["CloseDate"] == last["CreatedDate"][:10]
            assert not opp["NextStep"]
        else:
            assert opp["NextStep"]
        slips = 0
        for prev, row in pairwise(hist):
            if row["StageName"] != prev["StageName"]:
                st = stages[row["StageName"]]
                assert float(row["Probability"]) == st.probability
                assert row["ForecastCategory"] == st.forecast_category
            elif row["CloseDate"] > prev["CloseDate"]:
                slips += 1
        assert slips == int(small.truth[opp["Id"]]["slips"])


def test_activity_timing(small: Org) -> None:
    today = TODAY.isoformat()
    for e in small.t["EmailMessage"]:
        assert e["CreatedDate"] == e["MessageDate"] and dt(e["MessageDate"]) < CUTOFF
    for t in small.t["Task"]:
        assert dt(t["CreatedDate"]) < CUTOFF
        if t["Status"] == "Completed":
            assert t["CreatedDate"][:10] >= t["ActivityDate"] and t["ActivityDate"] < today
        else:
            assert t["Status"] == "Not Started" and t["ActivityDate"] > today
    for e in small.t["Event"]:
        assert dt(e["CreatedDate"]) < CUTOFF
        if dt(e["StartDateTime"]) < CUTOFF:
            assert e["CreatedDate"] >= e["EndDateTime"]
        assert e["ActivityDate"] == e["StartDateTime"][:10]
    for opp in small.t["Opportunity"]:
        acts = small.by_opp[opp["Id"]]
        past = [
            a["ActivityDate"] for a in acts["Task"] + acts["Event"] if a["ActivityDate"] < today
        ]
        assert opp["LastActivityDate"] == max(past, default="")
        if opp["IsClosed"] == "true":
            closed = small.by_opp[opp["Id"]]["OpportunityHistory"][-1]["CreatedDate"]
            assert all(e["MessageDate"] <= closed for e in acts["EmailMessage"])


def test_contact_roles(small: Org) -> None:
    for opp in small.t["Opportunity"]:
        roles = small.by_opp[opp["Id"]]["OpportunityContactRole"]
        assert sum(r["IsPrimary"] == "true" for r in roles) == 1
        assert all(r["Role"] in ROLES and r["CreatedDate"] >= opp["CreatedDate"] for r in roles)
        truth = small.truth[opp["Id"]]
        dm_roles = [r for r in roles if r["Role"] in ("Decision Maker", "Economic Buyer")]
        if truth["dm_engaged_at"]:
            assert min(r["CreatedDate"] for r in dm_roles) == truth["dm_engaged_at"]
        else:
            assert not dm_roles
        if truth["single_threaded"] == "true":
            assert len(roles) == 1
        elif _lived_days(opp) >= 14:
            # the plan flag is what the data shows: a second thread inside the risk
            # detector's 14-day grace period
            created = dt(opp["CreatedDate"])
            early = {r["ContactId"] for r in roles if (dt(r["CreatedDate"]) - created).days < 14}
            assert len(early) >= 2, opp["Id"]


def _lived_days(opp: dict[str, str]) -> int:
    """Days from creation to the close (closed deals) or to the export's today."""
    end = date.fromisoformat(opp["CloseDate"]) if opp["IsClosed"] == "true" else TODAY
    return (end - dt(opp["CreatedDate"]).date()).days


def test_dirty_data(medium: Org) -> None:
    contacts = medium.t["Contact"]
    by_email: dict[str, set[str]] = defaultdict(set)
    for c in contacts:
        by_email[c["Email"].strip().lower()].add(c["Id"])
    dups = [e for e, group in by_email.items() if len(group) > 1]
    assert len(dups) >= 5
    assert any(e.strip() != e for c in contacts if (e := c["Email"]))
    opps = medium.t["Opportunity"]
    deleted = sum(o["IsDeleted"] == "true" for o in opps) / len(opps)
    assert 0.003 < deleted < 0.025
    open_ = [o for o in medium.live() if o["IsClosed"] == "false"]
    no_amount = sum(not o["Amount"] for o in open_) / len(open_)
    assert 0.005 < no_amount < 0.05
    assert all(o["Amount"] for o in medium.live() if o["IsClosed"] == "true")


def test_win_rate_open_share_and_quarter_ends(medium: Org) -> None:
    live = medium.live()
    closed = [o for o in live if o["IsClosed"] == "true"]
    won = [o for o in closed if o["IsWon"] == "true"]
    assert 0.2 <= len(won) / len(closed) <= 0.3
    assert 0.15 <= 1 - len(closed) / len(live) <= 0.25
    assert medium.summary.win_rate == pytest.approx(len(won) / len(closed))

    def late_in_quarter(day: str) -> bool:
        d = date.fromisoformat(day)
        q_end_month = (d.month - 1) // 3 * 3 + 3
        nxt = date(d.year + 1, 1, 1) if q_end_month == 12 else date(d.year, q_end_month + 1, 1)
        return (nxt - d).days <= 21

    assert sum(late_in_quarter(o["CloseDate"]) for o in won) / len(won) > 0.45
    overdue = [o for o in live if o["IsClosed"] == "false" and o["CloseDate"] < TODAY.isoformat()]
    assert overdue
    recent = [o for o in live if o["CreatedDate"] >= "2025-04-01"]
    assert sum(o["IsClosed"] == "false" for o in recent) / len(recent) > 0.6


def _rate(rows: list[dict[str, str]]) -> float:
    closed = [r for r in rows if r["outcome"] != "open"]
    return sum(r["outcome"] == "won" for r in closed) / len(closed)


def test_latent_drivers_shape_outcomes(medium: Org) -> None:
    truth = [t for t in medium.truth.values() if t["is_deleted"] == "false"]
    for driver, sign in (
        ("ghosting", -1),
        ("stalled", -1),
        ("single_threaded", -1),
        ("budget_confirmed_at", 1),
        ("dm_engaged_at", 1),
    ):
        yes = [t for t in truth if t[driver] not in ("", "false")]
        no = [t for t in truth if t[driver] in ("", "false")]
        assert sign * (_rate(yes) - _rate(no)) > 0.1, driver


def _per_week(org: Org, opp_id: str, start: str, stop: str) -> float:
    acts = org.by_opp[opp_id]
    times = [e["MessageDate"] for e in acts["EmailMessage"]]
    times += [a["CreatedDate"] for a in acts["Task"] if a["Status"] == "Completed"]
    times += [a["StartDateTime"] for a in acts["Event"]]
    weeks = max((dt(stop) - dt(start)).days / 7, 1.0)
    return sum(start <= t < stop for t in times) / weeks


def test_activity_follows_engagement_and_decays_when_stalled(medium: Org) -> None:
    cutoff = "2025-06-15T00:00:00.000Z"
    rates: dict[str, list[float]] = defaultdict(list)
    before, after = [], []
    for opp_id, t in medium.truth.items():
        opp = medium.opps[opp_id]
        stop = t["closed_at"] or cutoff
        level = float(t["engagement"])
        if t["stalled"] == "false" and t["ghosting"] == "false":
            band = "low" if level < 0.35 else "high" if level > 0.65 else "mid"
            rates[band].append(_per_week(medium, opp_id, opp["CreatedDate"], stop))
        if t["stalled"] == "true" and not t["stall_end"]:
            before.append(_per_week(medium, opp_id, opp["CreatedDate"], t["stall_start"]))
            after.append(_per_week(medium, opp_id, t["stall_start"], stop))
    mean = {band: sum(v) / len(v) for band, v in rates.items()}
    assert mean["low"] < 0.8 * mean["mid"] < 0.8 * mean["high"]
    assert len(after) > 50 and sum(after) < 0.5 * sum(before)


def _email_of(org: Org) -> dict[str, str]:
    return {c["Id"]: c["Email"].strip().lower() for c in org.t["Contact"]}


def test_ghosted_champions_stop_replying(medium: Org) -> None:
    emails = _email_of(medium)
    inbound: dict[bool, list[int]] = {True: [], False: []}
    chased = ghosted = 0
    for opp_id, t in medium.truth.items():
        acts = medium.by_opp[opp_id]
        is_ghosted = t["ghosting"] == "true"
        inbound[is_ghosted].append(sum(e["Incoming"] == "true" for e in acts["EmailMessage"]))
        if not is_ghosted:
            continue
        ghosted += 1
        roles = acts["OpportunityContactRole"]
        champion = emails[next(r["ContactId"] for r in roles if r["IsPrimary"] == "true")]
        start, end = t["ghost_start"], t["ghost_end"] or "9999"
        during = [e for e in acts["EmailMessage"] if start <= e["MessageDate"] < end]
        replies = [e for e in during if e["Incoming"] == "true"]
        assert all(e["FromAddress"].strip().lower() != champion for e in replies)
        chased += sum(e["Incoming"] == "false" for e in during) >= 2
    assert ghosted > 100 and chased / ghosted > 0.6
    assert sum(inbound[True]) / len(inbound[True]) < 0.7 * sum(inbound[False]) / len(inbound[False])


def test_single_threaded_deals_have_one_buyer_voice(medium: Org) -> None:
    emails = _email_of(medium)
    for opp_id, t in medium.truth.items():
        if t["single_threaded"] != "true":
            continue
        acts = medium.by_opp[opp_id]
        senders = {
            e["FromAddress"].strip().lower()
            for e in acts["EmailMessage"]
            if e["Incoming"] == "true"
        }
        assert len(senders) <= 1
        whos = {emails[a["WhoId"]] for a in acts["Task"] + acts["Event"]}
        assert len(whos) <= 1


def test_competitors_are_named_only_after_first_mention(medium: Org) -> None:
    with_comp = mentioned = 0
    for opp_id, t in medium.truth.items():
        acts = medium.by_opp[opp_id]
        texts = [
            (e["MessageDate"], f"{e['Subject']} {e['TextBody']}") for e in acts["EmailMessage"]
        ] + [(a["CreatedDate"], f"{a['Subject']} {a['Description']}") for a in acts["Task"]]
        texts += [(a["StartDateTime"], f"{a['Subject']} {a['Description']}") for a in acts["Event"]]
        name = t["competitor"]
        others = [c for c in COMPETITORS if c != name]
        assert not any(c in text for _, text in texts for c in others)
        if not name:
            continue
        with_comp += 1
        first = t["competitor_first_at"]
        assert all(name not in text for when, text in texts if when < first)
        mentioned += any(name in text for _, text in texts)
    assert with_comp > 100 and mentioned == with_comp


def test_price_friction_cuts_the_amount(medium: Org) -> None:
    friction = cut = 0
    for opp_id, t in medium.truth.items():
        hist = medium.by_opp[opp_id]["OpportunityHistory"]
        if t["price_friction"] != "true" or not hist[0]["Amount"]:
            continue
        friction += 1
        after = [float(h["Amount"]) for h in hist if h["CreatedDate"] >= t["pricing_first_at"]]
        before = [float(h["Amount"]) for h in hist if h["CreatedDate"] < t["pricing_first_at"]]
        cut += bool(after) and min(after) < before[-1]
        text = medium.text_of(opp_id).lower()
        assert "discount" in text or "price" in text or "pricing" in text
    assert friction > 50 and cut / friction > 0.6


def test_signatures_carry_pii(small: Org) -> None:
    inbound = [e for e in small.t["EmailMessage"] if e["Incoming"] == "true"]
    assert inbound
    for e in inbound:
        tail = e["TextBody"][-200:]
        assert e["FromAddress"] in tail and PHONE_RE.search(tail), e["TextBody"]
    calls = [t for t in small.t["Task"] if t["TaskSubtype"] == "Call"]
    assert calls and all(
        EMAIL_RE.search(c["Description"]) and PHONE_RE.search(c["Description"]) for c in calls
    )


def test_prompt_injections_are_present_and_recorded(small: Org) -> None:
    recorded = read(small.folder, "_truth/injections.csv")
    bodies = {e["Id"]: e["TextBody"] for e in small.t["EmailMessage"]}
    assert len(recorded) >= 3
    for row in recorded:
        assert row["text"] in bodies[row["EmailMessageId"]]
    assert any("Ignore previous instructions" in b for b in bodies.values())


def test_truth_file_is_complete_and_documented(small: Org) -> None:
    assert set(small.truth) == set(small.opps)
    readme = (small.folder / "_truth" / "README.md").read_text(encoding="utf-8")
    header = next(csv.reader((small.folder / "_truth" / "deals.csv").open(encoding="utf-8")))
    assert all(f"`{column}`" in readme for column in header)
    for opp_id, t in small.truth.items():
        opp = small.opps[opp_id]
        assert t["outcome"] == (
            "open" if opp["IsClosed"] == "false" else "won" if opp["IsWon"] == "true" else "lost"
        )
        if t["outcome"] == "open":
            assert not t["closed_at"] and t["eventual_close_at"] >= "2025-06-15"
        else:
            assert t["eventual_outcome"] == t["outcome"]
            assert t["eventual_close_at"] == t["closed_at"] < "2025-06-15"
        for column in ("ghost_start", "budget_confirmed_at", "competitor_first_at", "stall_start"):
            assert t[column] == "" or opp["CreatedDate"] <= t[column] < "2025-06-15"
