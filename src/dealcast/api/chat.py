"""Chat over the LangGraph agent (`dealcast.graph`): threads, streaming and human review.

Threads are private: the checkpoint metadata of every run records the thread's owner
(user id, role, as-of); only the owner may continue a thread, and a thread someone else
owns is answered like a missing one (404). Its owner's managers and admins may read it and,
when an answer waits for review (`Settings.chat_review_interrupt`), resume it with their
decision; nobody but an admin reviews their own thread. A held answer is never shown to the
owner before it is approved. The stream sends node progress and the final (guarded) message;
draft tokens are not streamed because they have not passed the guardrail yet.

A turn cut short (the server stopped mid-run, or a bug raised) is `unfinished`: its
checkpoints keep what was done; resuming the thread (owner or reviewer, no decision needed)
runs only what is left, so the side effects of finished steps (stored scores, audit rows)
are not repeated. A new message instead supersedes the unfinished turn (its pending steps
are dropped), so a turn that keeps failing never locks the thread. One run per thread at a
time in a process: a second request meanwhile is a 409.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import HTTPException, status
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Command
from pydantic import BaseModel, Field, field_validator
from sqlalchemy.engine import make_url

from dealcast.api.deps import unprocessable
from dealcast.api.schemas import DataFreshness, _check_as_of
from dealcast.config import Settings
from dealcast.graph.builder import build_graph
from dealcast.graph.checkpoint import open_checkpointer
from dealcast.graph.context import Context
from dealcast.jsonable import to_jsonable
from dealcast.safety.policy import Caller, Role, Visibility

THREAD_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
REVIEWERS = frozenset({Role.MANAGER, Role.ADMIN})


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=4000)
    thread_id: str | None = Field(None, description="Continue this thread; new one if absent.")
    as_of: str | None = Field(None, description="Answer as of this date; default now.")

    _as_of = field_validator("as_of")(_check_as_of)

    @field_validator("thread_id")
    @classmethod
    def _thread(cls, value: str | None) -> str | None:
        if value is not None and not THREAD_ID.match(value):
            raise ValueError("thread_id: 1-64 characters of letters, digits and _ . : -")
        return value


class ResumeRequest(BaseModel):
    approved: bool | None = Field(
        None,
        description="Release the held answer (true) or withhold it; required for a held "
        "answer, left out to finish an unfinished turn.",
    )


class ChatResponse(DataFreshness, BaseModel):  # + data_stale, data_as_of
    thread_id: str
    answer: str
    data: dict[str, Any] = {}
    citations: list[dict[str, Any]] = []
    partial: bool = False
    needs_review: bool = False
    model_version: str | None = None
    status: Literal["done", "pending_review", "unfinished"] = Field(
        "done",
        description="unfinished: the turn is still running or was cut short (server "
        "stopped, error); POST /v1/threads/{thread_id}/resume finishes it, a new message "
        "supersedes it.",
    )
    review_reasons: list[str] = []
    missing: list[str] = Field([], description="What could not be computed (partial answers).")


class ThreadMessage(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class ThreadOut(BaseModel):
    thread_id: str
    owner_id: str
    messages: list[ThreadMessage]
    last: ChatResponse | None
    pending_review: dict[str, Any] | None = Field(
        None, description="The held answer and why (reviewers only)."
    )


def checkpoint_url(settings: Settings, database_url: str) -> str:
    if settings.checkpoint_url:
        return settings.checkpoint_url
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return f"sqlite:///{url.database}.threads.db"
    return database_url


def _model_version(values: Mapping[str, Any]) -> str | None:
    results = values.get("results") or {}
    for key in ("score", *sorted(results)):
        out = (results.get(key) or {}).get("output")
        if isinstance(out, Mapping) and out.get("model_version"):
            return str(out["model_version"])
    return None


def _not_found(thread_id: str) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"no thread {thread_id} of yours")


class ChatService:
    """The compiled graph with its checkpointer; one per process (opened in lifespan)."""

    def __init__(self, graph: Any, database_url: str, settings: Settings) -> None:
        self.graph, self.database_url, self.settings = graph, database_url, settings
        self._running: set[str] = set()  # threads with a run in this process

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings, database_url: str) -> AsyncIterator[ChatService]:
        async with open_checkpointer(checkpoint_url(settings, database_url)) as saver:
            yield cls(build_graph().compile(checkpointer=saver), database_url, settings)

    # ---- helpers ---------------------------------------------------------------------------
    def _context(self, owner: Mapping[str, Any]) -> Context:
        return Context(
            database_url=self.database_url,
            user_id=str(owner["user_id"]),
            role=str(owner["role"]),
            as_of=owner.get("as_of"),
            use_llm=bool(self.settings.llm_base_url),
            review_interrupt=self.settings.chat_review_interrupt,
        )

    @staticmethod
    def _config(thread_id: str, owner: Mapping[str, Any]) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread_id}, "metadata": dict(owner)}

    async def _snapshot(self, thread_id: str) -> Any:
        return await self.graph.aget_state({"configurable": {"thread_id": thread_id}})

    @staticmethod
    def _owner(snapshot: Any) -> dict[str, Any] | None:
        meta = snapshot.metadata or {}
        if not meta.get("user_id") or not meta.get("role"):
            return None
        return {"user_id": meta["user_id"], "role": meta["role"], "as_of": meta.get("as_of")}

    def response(self, thread_id: str, snapshot: Any) -> ChatResponse:
        values = snapshot.values or {}
        pending = bool(snapshot.interrupts)
        unfinished = bool(snapshot.next) and not pending
        reasons = list(values.get("review_reasons") or [])
        if pending:
            value = snapshot.interrupts[0].value
            reasons = list(value.get("reasons") or []) if isinstance(value, Mapping) else []
        return ChatResponse(
            thread_id=thread_id,
            answer="" if pending or unfinished else str(values.get("answer") or ""),
            data={} if pending or unfinished else to_jsonable(values.get("data") or {}),
            citations=[]
            if pending or unfinished
            else to_jsonable(list(values.get("citations") or [])),
            partial=bool(values.get("partial")),
            needs_review=pending or bool(values.get("needs_review")),
            model_version=_model_version(values),
            status="pending_review" if pending else "unfinished" if unfinished else "done",
            review_reasons=reasons,
            missing=[str(m) for m in values.get("missing") or []],
        )

    async def _start(self, caller: Caller, body: ChatRequest) -> tuple[str, dict[str, Any]]:
        """The thread id and its owner record; 404 for someone else's thread."""
        thread_id = body.thread_id or uuid.uuid4().hex
        self._check_idle(thread_id)
        owner = {"user_id": caller.user_id, "role": caller.role.value, "as_of": body.as_of}
        if body.thread_id:
            snapshot = await self._snapshot(thread_id)
            if snapshot.values or snapshot.metadata:
                known = self._owner(snapshot)
                if known is None or known["user_id"] != caller.user_id:
                    raise _not_found(thread_id)
                if snapshot.interrupts:
                    raise HTTPException(
                        status.HTTP_409_CONFLICT,
                        f"thread {thread_id} waits for review; it continues once resumed",
                    )
                owner["as_of"] = body.as_of or known.get("as_of")
        return thread_id, owner

    def _check_idle(self, thread_id: str) -> None:
        if thread_id in self._running:
            raise HTTPException(
                status.HTTP_409_CONFLICT, f"thread {thread_id} is answering; try again shortly"
            )

    @asynccontextmanager
    async def _run(self, thread_id: str) -> AsyncIterator[None]:
        """One run per thread at a time in this process (a second is a 409, not a fork)."""
        self._check_idle(thread_id)
        self._running.add(thread_id)
        try:
            yield
        finally:
            self._running.discard(thread_id)

    # ---- operations ------------------------------------------------------------------------
    async def ask(self, caller: Caller, body: ChatRequest) -> ChatResponse:
        thread_id, owner = await self._start(caller, body)
        config = self._config(thread_id, owner)
        async with self._run(thread_id):
            await self.graph.ainvoke(
                {"messages": [HumanMessage(body.message)]}, config, context=self._context(owner)
            )
            return self.response(thread_id, await self._snapshot(thread_id))

    async def stream(self, caller: Caller, body: ChatRequest) -> AsyncIterator[str]:
        """Server-sent events: `thread`, one `progress` per finished node, then `message`
        (or `error`). Validation and ownership errors are raised before the stream starts."""
        thread_id, owner = await self._start(caller, body)
        config = self._config(thread_id, owner)

        async def events() -> AsyncIterator[str]:
            yield _sse("thread", {"thread_id": thread_id})
            try:
                async with self._run(thread_id):
                    async for event in self._updates(thread_id, body.message, config, owner):
                        yield event
            except Exception as exc:  # the stream has started: report, don't raise
                yield _sse("error", {"detail": f"{type(exc).__name__}: {exc}"})

        return events()

    async def _updates(
        self, thread_id: str, message: str, config: dict[str, Any], owner: Mapping[str, Any]
    ) -> AsyncIterator[str]:
        async for update in self.graph.astream(
            {"messages": [HumanMessage(message)]},
            config,
            context=self._context(owner),
            stream_mode="updates",
        ):
            for node in update:
                if node == "__interrupt__":
                    yield _sse("progress", {"node": "review", "status": "held"})
                else:
                    yield _sse("progress", {"node": node, "status": "done"})
        final = self.response(thread_id, await self._snapshot(thread_id))
        yield _sse("message", final.model_dump(mode="json"))

    def _access(
        self, caller: Caller, thread_id: str, snapshot: Any, vis: Visibility
    ) -> tuple[dict[str, Any], bool]:
        """(the thread's owner, whether the caller may review it); 404 unless the caller is
        the owner or a reviewer who can see the owner (no hint that the thread exists)."""
        owner = self._owner(snapshot)
        if owner is None:
            raise _not_found(thread_id)
        reviewer = caller.role in REVIEWERS and vis.can_see(owner["user_id"])
        if not (owner["user_id"] == caller.user_id or reviewer):
            raise _not_found(thread_id)
        return owner, reviewer

    async def thread(self, caller: Caller, thread_id: str, vis: Visibility) -> ThreadOut:
        snapshot = await self._snapshot(thread_id)
        owner, reviewer = self._access(caller, thread_id, snapshot, vis)
        messages = [
            ThreadMessage(
                role="user" if isinstance(m, HumanMessage) else "assistant",
                content=str(m.content),
            )
            for m in (snapshot.values or {}).get("messages") or []
            if isinstance(m, HumanMessage | AIMessage)
        ]
        pending = None
        if snapshot.interrupts and reviewer:
            pending = to_jsonable(dict(snapshot.interrupts[0].value))
        last = self.response(thread_id, snapshot) if snapshot.values else None
        return ThreadOut(
            thread_id=thread_id,
            owner_id=owner["user_id"],
            messages=messages,
            last=last,
            pending_review=pending,
        )

    async def resume(
        self, caller: Caller, thread_id: str, approved: bool | None, vis: Visibility
    ) -> ChatResponse:
        """Decide a held answer (reviewers) or finish an unfinished turn (owner, reviewers)."""
        async with self._run(thread_id):
            snapshot = await self._snapshot(thread_id)
            owner, reviewer = self._access(caller, thread_id, snapshot, vis)
            command: Command[Any] | None = None  # None: continue from the last checkpoint
            if snapshot.interrupts:
                if not reviewer:
                    raise HTTPException(
                        status.HTTP_403_FORBIDDEN, "a manager or admin reviews held answers"
                    )
                if owner["user_id"] == caller.user_id and caller.role is not Role.ADMIN:
                    raise HTTPException(
                        status.HTTP_403_FORBIDDEN, "you cannot review your own thread"
                    )
                if approved is None:
                    raise unprocessable(
                        ("body", "approved"), "the answer waits for review: approved is required"
                    )
                command = Command(resume={"approved": approved})
            elif not snapshot.next:
                raise HTTPException(
                    status.HTTP_409_CONFLICT, f"thread {thread_id} waits for nothing"
                )
            await self.graph.ainvoke(
                command, self._config(thread_id, owner), context=self._context(owner)
            )
            return self.response(thread_id, await self._snapshot(thread_id))


def _sse(event: str, data: Any) -> str:
    return f"event: {event}\ndata: {json.dumps(to_jsonable(data))}\n\n"
