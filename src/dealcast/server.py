"""The HTTP API (`dealcast serve`): FastAPI app factory and lifespan.

`create_app()` builds the app; `lifespan` opens the store (with a bounded connection pool),
the stage set and the API keys once, and closes them at shutdown. Routes live in
`dealcast.api.routes_*`; blocking work (pandas, SQL, numpy) runs in worker threads.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.engine import make_url

from dealcast.api import (
    errors,
    routes_audit,
    routes_chat,
    routes_deals,
    routes_forecasts,
    routes_health,
)
from dealcast.api.auth import ApiKeys, load_api_keys
from dealcast.api.chat import ChatService
from dealcast.api.deps import AppState
from dealcast.api.freshness import FreshnessMiddleware
from dealcast.config import Settings, get_settings
from dealcast.crm.db import make_engine, migrate
from dealcast.crm.stages import load_stages
from dealcast.crm.store import Store
from dealcast.sync_schedule import serving
from dealcast.tools.store import close_stores

log = logging.getLogger("dealcast.server")

DESCRIPTION = """Calibrated deal scores, risks with evidence and Monte Carlo forecasts.

Every `/v1` endpoint needs an API key in the `X-API-Key` header; the key decides who you are
and what you see: a rep their own deals, a manager their team's (User.ManagerId, all levels),
finance and admin every deal. Bad input is a 422 naming the field; a busy database a 503 with
`Retry-After`."""


V1_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or unknown API key (X-API-Key header)."},
    503: {"description": "The database is busy: retry after `Retry-After` seconds."},
}


def open_store(settings: Settings, url: str | None = None) -> Store:
    """The store with the server's pool limits (pool_size, max_overflow, pool_timeout)."""
    url = url or settings.resolved_database_url()
    if "://" not in url:  # a bare path means an SQLite file
        url = f"sqlite:///{url}"
    kwargs: dict[str, Any] = {}
    parsed = make_url(url)
    if not (parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")):
        kwargs = {
            "pool_size": settings.db_pool_size,
            "max_overflow": settings.db_max_overflow,
            "pool_timeout": settings.db_pool_timeout,
        }
    engine = make_engine(url, **kwargs)
    migrate(engine)
    return Store(engine, load_stages(settings.stages_file))


def create_app(
    settings: Settings | None = None,
    *,
    database_url: str | None = None,
    store: Store | None = None,
    api_keys: ApiKeys | Mapping[str, Any] | None = None,
    chat: bool = True,
) -> FastAPI:
    """The API. `store` (tests) is used as is and not closed; otherwise the store is opened
    from `database_url` or the settings in `lifespan`. `api_keys` overrides the settings'.
    `chat=False` leaves the agent out (its endpoints answer 503)."""
    cfg = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        keys = (
            api_keys
            if isinstance(api_keys, ApiKeys)
            else ApiKeys.parse(api_keys)
            if api_keys is not None
            else load_api_keys(cfg)
        )
        if not len(keys):
            log.warning("no API keys configured (DEALCAST_API_KEYS / _FILE): every call is 401")
        own = store is None
        opened = await run_in_threadpool(open_store, cfg, database_url) if own else store
        assert opened is not None
        state = AppState(settings=cfg, store=opened, stages=opened.stages, api_keys=keys)
        try:
            async with AsyncExitStack() as stack:
                # data freshness on every answer; the Salesforce sync schedule when configured
                await stack.enter_async_context(serving(cfg, opened, state))
                if chat:
                    url = opened.engine.url.render_as_string(hide_password=False)
                    state.chat = await stack.enter_async_context(ChatService.open(cfg, url))
                app.state.dealcast = state
                yield
        finally:
            app.state.dealcast = None
            if chat:
                close_stores()  # the engines the agent's tools opened
            if own:
                opened.close()

    app = FastAPI(
        title="dealcast",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    errors.install(app, cfg.retry_after_s)
    app.add_middleware(FreshnessMiddleware)
    app.include_router(routes_health.router)
    for module in (routes_deals, routes_forecasts, routes_audit, routes_chat):
        app.include_router(module.router, responses=V1_RESPONSES)
    return app
