"""Request dependencies: the app's shared state, the caller behind the API key, as-of times."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader

from dealcast.api.auth import HEADER, ApiKeys
from dealcast.config import Settings
from dealcast.crm.pit import as_of_instant
from dealcast.crm.stages import StageConfig
from dealcast.crm.store import Store
from dealcast.safety.policy import SEES_ALL_DEALS, Caller, Role, Visibility


@dataclass
class AppState:
    """What `lifespan` opens once and every request shares."""

    settings: Settings
    store: Store
    stages: StageConfig
    api_keys: ApiKeys
    chat: Any = None  # dealcast.api.chat.ChatService when the graph is available
    extras: dict[str, Any] = field(default_factory=dict)


def get_state(request: Request) -> AppState:
    state: AppState | None = getattr(request.app.state, "dealcast", None)
    if state is None:  # only before lifespan ran (e.g. a client used without `with`)
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the server is starting")
    return state


api_key_header = APIKeyHeader(
    name=HEADER,
    auto_error=False,
    description="Your API key; it decides who you are and which deals you can see.",
)


def get_caller(
    state: Annotated[AppState, Depends(get_state)],
    key: Annotated[str | None, Depends(api_key_header)],
) -> Caller:
    caller = state.api_keys.lookup(key)
    if caller is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"missing or unknown API key: send it in the {HEADER} header",
            headers={"WWW-Authenticate": HEADER},
        )
    return caller


def require_roles(*roles: Role) -> Any:
    """A dependency that lets only `roles` through (403 for other authenticated callers)."""

    def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if caller.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"role {caller.role.value} may not do this ({allowed})"
            )
        return caller

    return check


StateDep = Annotated[AppState, Depends(get_state)]
CallerDep = Annotated[Caller, Depends(get_caller)]
SeesAllDep = Annotated[Caller, Depends(require_roles(*sorted(SEES_ALL_DEALS)))]


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def parse_as_of(value: str | None, loc: tuple[str, ...] = ("query", "as_of")) -> datetime:
    """The request's as-of instant (a bare date = end of that day, UTC), default now; a bad
    value is a 422 naming the field."""
    if value is None or not value.strip():
        return now()
    try:
        return as_of_instant(value)
    except ValueError as exc:
        raise unprocessable(loc, str(exc)) from None


def unprocessable(loc: tuple[str | int, ...], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors (`detail[].loc` names the field)."""
    return HTTPException(
        422,
        [{"loc": list(loc), "msg": message, "type": "value_error"}],
    )


def visibility(store: Store, caller: Caller, as_of: datetime) -> Visibility:
    """What `caller` may see, from the users (and their ManagerId tree) known at `as_of`.
    Blocking: call it from a worker thread."""
    users = store.as_of(as_of).users()
    if users.empty:
        users = pd.DataFrame({"Id": pd.Series(dtype=str), "ManagerId": pd.Series(dtype=str)})
    return Visibility.from_users(users, caller)
