"""Server-sent events that push cheap counters to browsers when projections change."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from views.deps import LiveDep
from views.models import ErrorBody, LiveSnapshot

router = APIRouter(prefix="/api", tags=["live"])


@router.get(
    "/live",
    summary="Server-sent events: a `snapshot` event (LiveSnapshot JSON) on each change",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/event-stream": {}}},
        503: {"model": ErrorBody, "description": "The feed has its maximum of subscribers."},
    },
)
async def live_stream(live: LiveDep) -> StreamingResponse:
    return StreamingResponse(
        live.stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/live/latest", summary="The latest live snapshot, for clients without SSE")
async def live_latest(live: LiveDep) -> LiveSnapshot | None:
    return live.latest
