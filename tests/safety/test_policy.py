"""Callers, visibility by role (ManagerId hierarchy, cycles) and the PII policy per role."""

from __future__ import annotations

import pandas as pd
import pytest

from dealcast.safety.policy import (
    Caller,
    Role,
    Visibility,
    contact_names_split,
    pii_policy_for,
)

# 18-char Salesforce-style user ids; short names for readability
VP = "005000000000001AAA"
MGR = "005000000000002AAA"
REP1 = "005000000000003AAA"
REP2 = "005000000000004AAA"
OTHER_MGR = "005000000000005AAA"
REP3 = "005000000000006AAA"
# a cycle in bad CRM data: LOOP_A -> LOOP_B -> LOOP_A
LOOP_A = "005000000000007AAA"
LOOP_B = "005000000000008AAA"


@pytest.fixture()
def users() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Id": [VP, MGR, REP1, REP2, OTHER_MGR, REP3, LOOP_A, LOOP_B],
            "Name": ["Vi", "Mo", "Re", "Ra", "Om", "R3", "La", "Lb"],
            "ManagerId": [None, VP, MGR, MGR, VP, OTHER_MGR, LOOP_B, LOOP_A],
        }
    )


def key(uid: str) -> str:
    return uid[:15]


def vis(users: pd.DataFrame, uid: str, role: str, **kw: object) -> Visibility:
    return Visibility.from_users(users, Caller(uid, role), **kw)  # type: ignore[arg-type]


def test_caller_rejects_bad_roles_and_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="rep, manager, finance, admin"):
        Caller(REP1, "ceo")
    with pytest.raises(ValueError, match="user_id"):
        Caller("  ", "rep")
    assert Caller(REP1, " Manager ").role is Role.MANAGER


def test_rep_sees_only_their_own_deals(users: pd.DataFrame) -> None:
    v = vis(users, REP1, "rep")
    assert v.visible_owner_ids() == {key(REP1)}
    assert v.can_see(REP1) and v.can_see(REP1[:15])  # 15- and 18-char forms
    assert not v.can_see(REP2) and not v.can_see(MGR) and not v.can_see(None)


def test_manager_sees_own_and_team_transitively(users: pd.DataFrame) -> None:
    assert vis(users, MGR, "manager").visible_owner_ids() == {key(MGR), key(REP1), key(REP2)}
    everyone_but_loop = {key(u) for u in (VP, MGR, REP1, REP2, OTHER_MGR, REP3)}
    assert vis(users, VP, "manager").visible_owner_ids() == everyone_but_loop
    assert not vis(users, MGR, "manager").can_see(REP3)


def test_manager_hierarchy_cycle_terminates(users: pd.DataFrame) -> None:
    assert vis(users, LOOP_A, "manager").visible_owner_ids() == {key(LOOP_A), key(LOOP_B)}
    assert vis(users, LOOP_B, "manager").visible_owner_ids() == {key(LOOP_A), key(LOOP_B)}


def test_self_managed_user_and_unknown_manager(users: pd.DataFrame) -> None:
    frame = pd.concat(
        [
            users,
            pd.DataFrame(
                {"Id": ["005000000000009AAA"], "Name": ["S"], "ManagerId": ["005000000000009AAA"]}
            ),
        ]
    )
    assert vis(frame, "005000000000009AAA", "manager").visible_owner_ids() == {"005000000000009"}
    # a manager missing from the users frame still sees their own deals
    assert vis(users, "005000000000099AAA", "manager").visible_owner_ids() == {"005000000000099"}


@pytest.mark.parametrize("role", ["finance", "admin"])
def test_finance_and_admin_see_everything(users: pd.DataFrame, role: str) -> None:
    v = vis(users, REP1, role)
    assert v.sees_all
    assert v.visible_owner_ids() >= {key(u) for u in users["Id"]}
    assert v.can_see("005999999999999AAA") and v.can_see_deal("006999999999999AAA")


def test_filter_records_lists_and_frames(users: pd.DataFrame) -> None:
    records = [
        {"deal_id": "d1", "owner_id": REP1},
        {"deal_id": "d2", "owner_id": REP2},
        {"deal_id": "d3", "owner_id": REP3},
        {"deal_id": "d4"},
    ]
    assert [r["deal_id"] for r in vis(users, REP1, "rep").filter_records(records)] == ["d1"]
    assert [r["deal_id"] for r in vis(users, MGR, "manager").filter_records(records)] == [
        "d1",
        "d2",
    ]
    assert len(vis(users, MGR, "finance").filter_records(records)) == 4
    frame = pd.DataFrame({"Id": ["a", "b"], "OwnerId": [REP1[:15], REP3]})
    out = vis(users, REP1, "rep").filter_records(frame, owner_key="OwnerId")
    assert list(out["Id"]) == ["a"]
    assert vis(users, REP1, "rep").filter_records(frame, owner_key="nope").empty


DEALS = pd.DataFrame(
    {
        "Id": ["006000000000001AAA", "006000000000002AAA", "006000000000003AAA"],
        "OwnerId": [REP1, REP2, REP3],
        "Name": ["Acme Renewal", "Globex Expansion", "Initech Platform"],
    }
)


def test_deal_visibility_by_owner_and_unknown_deals_fail_closed(users: pd.DataFrame) -> None:
    rep = vis(users, REP1, "rep", deals=DEALS)
    assert rep.can_see_deal("006000000000001AAA") and rep.can_see_deal("006000000000001")
    assert not rep.can_see_deal("006000000000002AAA")
    assert not rep.can_see_deal("006000000000042AAA")  # unknown deal
    assert rep.hidden_deal_names == ("globex expansion", "initech platform")
    mgr = vis(users, MGR, "manager", deals={"006000000000003AAA": REP3, "006X": REP1})
    assert mgr.can_see_deal("006X") and not mgr.can_see_deal("006000000000003AAA")


def test_pii_policy_per_role(users: pd.DataFrame) -> None:
    everyone = ["Ada Okafor", "Ben Stone", "Cy Twombly"]
    mine = ["Ada Okafor"]
    for role in ("rep", "manager"):
        p = pii_policy_for(Caller(REP1, role), everyone, mine)
        assert p.names == ("Ben Stone", "Cy Twombly")
    assert pii_policy_for(Caller(REP1, "finance"), everyone, mine).names == tuple(sorted(everyone))
    assert pii_policy_for(Caller(REP1, "admin"), everyone, mine).names == ()
    for role in ("rep", "manager", "finance", "admin"):
        p = pii_policy_for(Caller(REP1, role), everyone, mine)
        assert p.emails and p.phones and p.cards and p.ssns and p.ibans


def test_contact_names_split_uses_contact_roles(users: pd.DataFrame) -> None:
    contacts = pd.DataFrame(
        {
            "Id": ["003000000000001AAA", "003000000000002AAA", "003000000000003AAA"],
            "FirstName": ["Ada", None, "Cy"],
            "LastName": ["Okafor", "Stone", "Twombly"],
        }
    )
    roles = pd.DataFrame(
        {
            "OpportunityId": ["006000000000001AAA", "006000000000002AAA"],
            "ContactId": ["003000000000001AAA", "003000000000002AAA"],
        }
    )
    rep = vis(users, REP1, "rep", deals=DEALS)
    everyone, visible = contact_names_split(rep, contacts, roles)
    assert everyone == {"Ada Okafor", "Stone", "Cy Twombly"}
    assert visible == {"Ada Okafor"}
    assert contact_names_split(rep, contacts)[1] == set()
