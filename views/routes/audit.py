"""The MongoDB audit log: pages of documents, the top 3 games, inserts per route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from views.deps import MongoDep
from views.models import AuditPage, Route, RouteCounts, TopGames
from views.routes.reports import UNAVAILABLE
from views.stores.mongo_reports import BadCursor, LogCursor, LogFilter

MAX_MS = 2**53  # JavaScript's safe integer range: the dashboard sends these back
router = APIRouter(prefix="/api/audit", tags=["audit log"], responses=UNAVAILABLE)


@router.get(
    "/log", summary="The audit log, newest first, filtered, paged by key (`next` → `after`)"
)
async def audit_log(
    mongo: MongoDep,
    game_id: Annotated[int | None, Query(ge=1, le=1000)] = None,
    route: Route | None = None,
    from_ms: Annotated[int | None, Query(ge=0, le=MAX_MS, description="occurred >= (ms)")] = None,
    to_ms: Annotated[int | None, Query(ge=0, le=MAX_MS, description="occurred < (ms)")] = None,
    after: Annotated[
        str | None, Query(max_length=400, description="`next` of the previous page")
    ] = None,
    page_size: Annotated[int, Query(ge=1, le=200)] = 25,
) -> AuditPage:
    if from_ms is not None and to_ms is not None and from_ms > to_ms:
        raise _invalid("to_ms", "to_ms must not be before from_ms", to_ms)
    try:
        cursor = None if after is None else LogCursor.decode(after)
    except BadCursor as exc:
        raise _invalid("after", str(exc), after) from exc
    where = LogFilter(game_id, route, from_ms, to_ms)
    return await mongo.log(where, cursor, page_size)


def _invalid(name: str, message: str, value: object) -> RequestValidationError:
    # The same body shape as FastAPI's own 422s, so clients parse one kind of error.
    return RequestValidationError(
        [{"type": "value_error", "loc": ("query", name), "msg": message, "input": value}]
    )


@router.get("/top-games", summary="The 3 most played games, from the projection's counters")
async def top_games(mongo: MongoDep) -> TopGames:
    return await mongo.top_games()


@router.get("/routes", summary="Audit documents inserted per route, from the counters")
async def inserts_per_route(mongo: MongoDep) -> RouteCounts:
    return await mongo.inserts_per_route()
