"""Changes over time, as users make them in Salesforce: new deals, stage moves, deletions.

Records are replaced, never edited in place (a Bulk job keeps the rows it ran on). Every
change stamps `SystemModstamp` (and `LastModifiedDate` where the object has it) with
the emulator's clock, writes an `OpportunityHistory` row where Salesforce would, and records
deletions for `sobjects/<O>/deleted`, so incremental sync is tested against real changes.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from dealcast.crm.records import KEY_PREFIX
from dealcast.crm.sfdc_emulator.data import Deletion, OrgData
from dealcast.crm.stages import STANDARD_STAGES

_counter = itertools.count(1)


def new_id(obj: str) -> str:
    """An 18-character Id with the object's key prefix, unique within the process."""
    return f"{KEY_PREFIX[obj]}E{next(_counter):011d}AAA"


@dataclass
class MutationReport:
    created: list[str]
    stage_changed: list[str]
    deleted: list[str]
    history_rows: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "stage_changed": self.stage_changed,
            "deleted": self.deleted,
            "history_rows": self.history_rows,
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def mutate(
    data: OrgData,
    *,
    new_deals: int = 0,
    stage_changes: int = 0,
    deletions: int = 0,
    rng: random.Random | None = None,
    now: datetime | None = None,
) -> MutationReport:
    rng = rng or random.Random(0)
    now = now or _now()
    report = MutationReport([], [], [], 0)
    with data.lock:
        opps = data.tables.get("Opportunity")
        if opps is None:
            raise ValueError("the org has no Opportunity object to mutate")
        open_ids = [
            i for i, r in opps.records.items() if not r.get("IsDeleted") and not r.get("IsClosed")
        ]
        rng.shuffle(open_ids)
        for opp_id in open_ids[:stage_changes]:
            moved_rec = dict(opps.records[opp_id])
            _advance(data, moved_rec, rng, now)
            opps.put(moved_rec)
            report.stage_changed.append(opp_id)
            report.history_rows += 1
        live = [i for i, r in opps.records.items() if not r.get("IsDeleted")]
        moved = set(report.stage_changed)
        candidates = [i for i in live if i not in moved]
        rng.shuffle(candidates)
        for opp_id in candidates[:deletions]:
            opps.put({**opps.records[opp_id], "IsDeleted": True, "SystemModstamp": now})
            data.deletions["Opportunity"].append(Deletion(opp_id, now))
            report.deleted.append(opp_id)
        for _ in range(new_deals):
            report.created.append(_create(data, rng, now))
            report.history_rows += 1
    return report


def _stage_fields(name: str) -> dict[str, Any]:
    stage = STANDARD_STAGES.get(name)
    return {
        "StageName": name,
        "Probability": float(stage.probability),
        "ForecastCategoryName": stage.forecast_category,
        "IsClosed": stage.is_closed,
        "IsWon": stage.is_won,
    }


def _history(data: OrgData, opp: dict[str, Any], now: datetime) -> None:
    table = data.tables.get("OpportunityHistory")
    if table is None:
        return
    row = {
        "Id": new_id("OpportunityHistory"),
        "IsDeleted": False,
        "OpportunityId": opp["Id"],
        "StageName": opp["StageName"],
        "Amount": opp.get("Amount"),
        "CloseDate": opp.get("CloseDate"),
        "Probability": opp.get("Probability"),
        "ForecastCategory": opp.get("ForecastCategoryName"),
        "CreatedDate": now,
        "CreatedById": opp.get("OwnerId"),
        "SystemModstamp": now,
    }
    table.put({k: v for k, v in row.items() if k in table.kinds})


def _advance(data: OrgData, opp: dict[str, Any], rng: random.Random, now: datetime) -> None:
    names = [s.name for s in STANDARD_STAGES.stages]
    open_names = [s.name for s in STANDARD_STAGES.stages if not s.is_closed]
    current = opp.get("StageName")
    if current in open_names and open_names.index(current) + 1 < len(open_names):
        target = open_names[open_names.index(current) + 1]
    else:
        target = rng.choice([n for n in names if STANDARD_STAGES.get(n).is_closed])
    opp.update(_stage_fields(target))
    opp["LastModifiedDate"] = opp["SystemModstamp"] = now
    if opp.get("CloseDate") is not None and opp["IsClosed"]:
        opp["CloseDate"] = now.date()
    _history(data, opp, now)


def _create(data: OrgData, rng: random.Random, now: datetime) -> str:
    opps = data.tables["Opportunity"]
    accounts = [i for i, r in data.tables["Account"].records.items() if not r.get("IsDeleted")]
    users = [i for i, r in data.tables["User"].records.items() if r.get("IsActive", True)]
    first = next(s.name for s in STANDARD_STAGES.stages if not s.is_closed)
    account = rng.choice(accounts)
    opp: dict[str, Any] = {
        "Id": new_id("Opportunity"),
        "IsDeleted": False,
        "Name": f"{data.tables['Account'].records[account].get('Name')} - Emulator deal",
        "AccountId": account,
        "OwnerId": rng.choice(users),
        "Amount": float(rng.randrange(5, 300) * 1000),
        "CloseDate": (now + timedelta(days=rng.randrange(30, 120))).date(),
        "Type": "New Customer",
        "LeadSource": "Web",
        "CreatedDate": now,
        "LastModifiedDate": now,
        "SystemModstamp": now,
        **_stage_fields(first),
    }
    opps.put({k: v for k, v in opp.items() if k in opps.kinds})
    _history(data, opps.records[opp["Id"]], now)
    return str(opp["Id"])
