"""`/v1/chat` and `/v1/threads`: the agent, its threads and human review of held answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from dealcast.api.chat import ChatRequest, ChatResponse, ChatService, ResumeRequest, ThreadOut
from dealcast.api.deps import CallerDep, StateDep, now, visibility

router = APIRouter(tags=["chat"])
ThreadId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


def get_chat(state: StateDep) -> ChatService:
    if state.chat is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "chat is not available")
    chat: ChatService = state.chat
    return chat


ChatDep = Annotated[ChatService, Depends(get_chat)]


@router.post(
    "/v1/chat",
    response_model=ChatResponse,
    summary="Ask the agent (new thread, or continue one of yours)",
    description="Answers only from tool outputs, guarded for your visibility and PII. "
    "`status: pending_review` means the answer is held until a manager or admin resumes it.",
)
async def post_chat(chat: ChatDep, caller: CallerDep, body: ChatRequest) -> ChatResponse:
    return await chat.ask(caller, body)


@router.post(
    "/v1/chat/stream",
    summary="Ask the agent, as server-sent events",
    description="Events: `thread` {thread_id}, `progress` {node, status} per finished node, "
    "then `message` (the same body as POST /v1/chat) or `error`.",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def post_chat_stream(
    chat: ChatDep, caller: CallerDep, body: ChatRequest
) -> StreamingResponse:
    events = await chat.stream(caller, body)
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get(
    "/v1/threads/{thread_id}",
    response_model=ThreadOut,
    summary="A thread's messages and last answer (its owner, their managers, admins)",
)
async def get_thread(
    state: StateDep, chat: ChatDep, caller: CallerDep, thread_id: ThreadId
) -> ThreadOut:
    vis = await run_in_threadpool(visibility, state.store, caller, now())
    return await chat.thread(caller, thread_id, vis)


@router.post(
    "/v1/threads/{thread_id}/resume",
    response_model=ChatResponse,
    summary="Approve or withhold a held answer, or finish an unfinished turn",
    description="A held answer (`pending_review`): the owner's managers and admins decide "
    "with `approved`. An unfinished turn (`unfinished`: the server stopped mid-run): the "
    "owner or a reviewer continues it from its last checkpoint; finished steps are not "
    "repeated.",
)
async def post_resume(
    state: StateDep, chat: ChatDep, caller: CallerDep, thread_id: ThreadId, body: ResumeRequest
) -> ChatResponse:
    vis = await run_in_threadpool(visibility, state.store, caller, now())
    return await chat.resume(caller, thread_id, body.approved, vis)
