"""The MongoDB audit log: pages of documents, the top 3 games, inserts per route."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError

from views.deps import MongoDep
from views.models import AuditPage, Route, RouteCounts, TopGames
from views.routes.reports import UNAVAILABLE
from views.stores.mongo_reports import LogFilter

MAX_MS = 2**53  # JavaScript's safe integer range: the dashboard sends these back
router = APIRouter(prefix="/api/audit", tags=["audit log"], responses=UNAVAILABLE)


@router.get("/log", summary="The audit log, newest first, paged and filtered")
async def audit_log(
    mongo: MongoDep,
    game_id: Annotated[int | None, Query(ge=1, le=1000)] = None,
    route: Route | None = None,
    from_ms: Annotated[int | None, Query(ge=0, le=MAX_MS, description="occurred >= (ms)")] = None,
    to_ms: Annotated[int | None, Query(ge=0, le=MAX_MS, description="occurred < (ms)")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=200)] = 25,
) -> AuditPage:
    if from_ms is not None and to_ms is not None and from_ms > to_ms:
        # The same body shape as FastAPI's own 422s, so clients parse one kind of error.
        raise RequestValidationError(
            [
                {
                    "type": "value_error",
                    "loc": ("query", "to_ms"),
                    "msg": "to_ms must not be before from_ms",
                    "input": to_ms,
                }
            ]
        )
    where = LogFilter(game_id, None if route is None else route.value, from_ms, to_ms)
    return await mongo.log(where, page, page_size)


@router.get("/top-games", summary="The 3 most played games")
async def top_games(mongo: MongoDep) -> TopGames:
    return await mongo.top_games()


@router.get("/routes", summary="Audit documents inserted per route")
async def inserts_per_route(mongo: MongoDep) -> RouteCounts:
    return await mongo.inserts_per_route()
