"""Human forecast calls: submissions and manager overrides, kept forever beside the AI forecast.

- `submit`: an owner calls their own number for a period and category (a rep for their
  deals, a manager for their team). `submitted_by` must be the owner: someone else changing
  an owner's number is an override.
- `override`: a manager above the owner (User.ManagerId, transitively) replaces the owner's
  number. A rep can never override their manager or a peer.
- Every call is a new `forecast_submission` row (who, when, previous → new amount, note);
  nothing is updated or deleted, and each row is audited in the same transaction. The AI
  forecast lives in `forecast_snapshot` and is never touched here.
- `current_calls`: the latest number per (owner, category) for a period, with its trail.

Validation (ValueError, naming the valid options): category Commit or Best Case, amount a
finite number >= 0, a non-blank note, a period label that parses, known users. An override
by someone who is not above the owner raises `NotAllowed` (a PermissionError that is also a
ValueError, so the CLI exits 2 with the message).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import select

from dealcast.crm import audit
from dealcast.crm.pit import as_of_instant
from dealcast.crm.schema import forecast_submission
from dealcast.crm.store import Store
from dealcast.sim.periods import parse_period

CATEGORIES = ("Commit", "Best Case")
KINDS = ("submission", "override")
MAX_NOTE = 2000


class NotAllowed(PermissionError, ValueError):
    """The user may not change this number."""


@dataclass(frozen=True)
class Call:
    """One stored submission or override."""

    id: int
    created_at: datetime
    period: str
    category: str
    owner_id: str
    submitted_by: str
    kind: str
    amount: float
    previous_amount: float | None
    note: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CurrentCall:
    """The number standing now for one owner and category, and every call that led to it."""

    owner_id: str
    owner_name: str | None
    category: str
    amount: float
    kind: str
    submitted_by: str
    created_at: datetime
    note: str
    trail: list[Call] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["trail"] = [c.as_dict() for c in self.trail]
        return out


# ---- the User.ManagerId hierarchy ---------------------------------------------------------


def manager_map(users: pd.DataFrame) -> dict[str, str | None]:
    """User Id -> ManagerId (None at the top)."""
    return {
        str(u): (str(m) if isinstance(m, str) and m else None)
        for u, m in zip(users["Id"], users["ManagerId"], strict=True)
    }


def managers_above(managers: dict[str, str | None], user_id: str) -> list[str]:
    """The chain of managers above `user_id`, nearest first (cycles are cut)."""
    chain: list[str] = []
    current = managers.get(user_id)
    while current is not None and current not in chain and current != user_id:
        chain.append(current)
        current = managers.get(current)
    return chain


def reports_of(managers: dict[str, str | None], user_id: str) -> set[str]:
    """Everyone below `user_id`, transitively (not `user_id` itself)."""
    return {u for u in managers if u != user_id and user_id in managers_above(managers, u)}


# ---- writing calls ------------------------------------------------------------------------


def submit(
    store: Store,
    period: str,
    category: str,
    owner_id: str,
    amount: float,
    note: str,
    submitted_by: str,
    *,
    at: datetime | None = None,
    fiscal_start_month: int = 1,
) -> Call:
    """The owner's own call for `period` and `category` (`submitted_by` must be the owner)."""
    if submitted_by != owner_id:
        raise NotAllowed(
            f"{submitted_by} cannot submit {owner_id}'s number: owners submit their own "
            "numbers; a manager above the owner changes it with an override"
        )
    return _record(
        store,
        "submission",
        period,
        category,
        owner_id,
        amount,
        note,
        submitted_by,
        at,
        fiscal_start_month,
    )


def override(
    store: Store,
    period: str,
    category: str,
    owner_id: str,
    amount: float,
    note: str,
    by_user_id: str,
    *,
    at: datetime | None = None,
    fiscal_start_month: int = 1,
) -> Call:
    """A manager above `owner_id` replaces the owner's number (the note says why)."""
    return _record(
        store,
        "override",
        period,
        category,
        owner_id,
        amount,
        note,
        by_user_id,
        at,
        fiscal_start_month,
    )


def _validate(
    period: str, category: str, amount: float, note: str, fiscal_start_month: int
) -> tuple[str, float, str]:
    label = parse_period(period, fiscal_start_month=fiscal_start_month).label
    if category not in CATEGORIES:
        raise ValueError(f"category {category!r} is not one of {', '.join(CATEGORIES)}")
    try:
        value = float(amount)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"amount {amount!r} is not a number") from exc
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"amount must be a finite number >= 0, got {amount!r}")
    text = (note or "").strip()
    if not text:
        raise ValueError("a note is required: say what the number rests on")
    if len(text) > MAX_NOTE:
        raise ValueError(f"the note is {len(text)} characters; at most {MAX_NOTE}")
    return label, value, text


def _record(
    store: Store,
    kind: str,
    period: str,
    category: str,
    owner_id: str,
    amount: float,
    note: str,
    by: str,
    at: datetime | None,
    fiscal_start_month: int,
) -> Call:
    label, value, text = _validate(period, category, amount, note, fiscal_start_month)
    users = store.as_of(datetime.now(UTC).replace(tzinfo=None)).users()
    managers = manager_map(users)
    for role, user in (("owner", owner_id), ("submitter", by)):
        if user not in managers:
            raise ValueError(f"{role} {user!r} is not a known user (a User Id from the CRM)")
    if kind == "override" and by not in managers_above(managers, owner_id):
        chain = managers_above(managers, owner_id)
        allowed = ", ".join(chain) if chain else "nobody (the owner has no manager)"
        raise NotAllowed(
            f"{by} is not a manager above {owner_id}: only their managers can override "
            f"their number ({allowed})"
        )
    created = as_of_instant(at) if at is not None else datetime.now(UTC).replace(tzinfo=None)
    tab = forecast_submission
    with store.engine.begin() as conn:
        # previous number and the insert share the transaction the audit entry locks
        previous = conn.execute(
            select(tab.c.amount)
            .where(tab.c.period == label, tab.c.category == category, tab.c.owner_id == owner_id)
            .order_by(tab.c.created_at.desc(), tab.c.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        row: dict[str, Any] = {
            "created_at": created,
            "period": label,
            "category": category,
            "owner_id": owner_id,
            "submitted_by": by,
            "kind": kind,
            "amount": value,
            "previous_amount": previous,
            "note": text,
        }
        key = conn.execute(tab.insert().values(**row)).inserted_primary_key
        assert key is not None
        call = Call(id=int(key[0]), **row)
        audit.append(
            conn,
            actor=by,
            action=f"forecast_{kind}",
            subject=f"{label} {category} {owner_id}",
            as_of=created,
            model_version=None,
            inputs_hash=audit.hash_inputs(row),
            outputs={"id": call.id, "amount": value, "previous_amount": previous, "note": text},
        )
    return call


# ---- reading calls ------------------------------------------------------------------------


def calls(store: Store, period: str | None = None) -> list[Call]:
    """Every stored call (for one period label when given), oldest first."""
    tab = forecast_submission
    query = select(tab).order_by(tab.c.created_at, tab.c.id)
    if period is not None:
        query = query.where(tab.c.period == period)
    with store.engine.connect() as conn:
        rows = conn.execute(query).mappings().all()
    return [Call(**dict(r)) for r in rows]


def latest_by(
    rows: list[Call], until: datetime | None = None, kind: str | None = None
) -> dict[tuple[str, str], Call]:
    """The last call per (owner, category) made at or before `until` (of `kind` when given)."""
    out: dict[tuple[str, str], Call] = {}
    for call in rows:  # oldest first, so later calls win
        if (until is None or call.created_at <= until) and (kind is None or call.kind == kind):
            out[(call.owner_id, call.category)] = call
    return out


def current_calls(store: Store, period: str, *, fiscal_start_month: int = 1) -> list[CurrentCall]:
    """The latest number per (owner, category) for `period`, each with its full trail."""
    label = parse_period(period, fiscal_start_month=fiscal_start_month).label
    rows = calls(store, label)
    users = store.as_of(datetime.now(UTC).replace(tzinfo=None)).users()
    names = dict(zip(users["Id"], users["Name"], strict=True))
    out = []
    for (owner, category), last in sorted(latest_by(rows).items()):
        trail = [c for c in rows if c.owner_id == owner and c.category == category]
        out.append(
            CurrentCall(
                owner_id=owner,
                owner_name=names.get(owner),
                category=category,
                amount=last.amount,
                kind=last.kind,
                submitted_by=last.submitted_by,
                created_at=last.created_at,
                note=last.note,
                trail=trail,
            )
        )
    return out
