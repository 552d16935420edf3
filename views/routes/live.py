"""Server-sent events that push cheap counters to browsers when projections change."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.sse import EventSourceResponse, ServerSentEvent

from views.deps import LiveDep
from views.models import LiveSnapshot

router = APIRouter(prefix="/api", tags=["live"])
_JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}


async def _subscribe(live: LiveDep) -> AsyncGenerator[ServerSentEvent, None]:
    # A dependency, so a full feed answers 503 before the event stream starts.
    return live.stream()


@router.get(
    "/live",
    summary="Server-sent events: a `snapshot` event (LiveSnapshot JSON) on each change",
    response_class=EventSourceResponse,
    # Spelled out: a `model` here would be listed under text/event-stream, yet a 503 is JSON.
    responses={
        503: {"description": "The feed has its maximum of subscribers.", "content": _JSON_ERROR}
    },
)
async def live_stream(
    events: Annotated[AsyncGenerator[ServerSentEvent, None], Depends(_subscribe)],
) -> AsyncIterator[ServerSentEvent]:
    async with aclosing(events):  # a client that leaves frees its slot at once
        async for event in events:
            yield event


@router.get("/live/latest", summary="The latest live snapshot, for clients without SSE")
async def live_latest(live: LiveDep) -> LiveSnapshot | None:
    return live.latest
