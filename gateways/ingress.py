"""The HTTP ingress: POST /api/games, split across the two gateway routes by weight."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Final

import grpc
from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from gateways.events import route_name
from gateways.http_limits import BodyLimitMiddleware, LoadSheddingMiddleware
from gateways.metrics import IngressMetrics
from gateways.routing import RouteClient, RouteFailed, RouteWeights
from squidstream.auth import grpc_metadata
from squidstream.contract import (
    EVENT_FIELDS,
    REQUEST_ID_MAX_CHARS,
    RouteName,
    request_id_problem,
)
from squidstream.grpc_client import channel_credentials
from squidstream.http_auth import BearerTokenMiddleware
from squidstream.http_metrics import RequestMetricsMiddleware
from squidstream.proto import game_pb2
from squidstream.route_names import ROUTE_LIST
from squidstream.settings import Settings, load_settings

INT32_MAX: Final = 2**31 - 1
# Paths that need the write token; /healthz, /metrics and /api/routes stay open.
WRITES: Final = ("/api/games",)
HTTP_STATUS: Final[dict[grpc.StatusCode, int]] = {
    grpc.StatusCode.INVALID_ARGUMENT: 422,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
}


class GameRequest(BaseModel):
    """One game to play. Ranges are the gateway's to judge; this only checks types."""

    game_id: int = Field(ge=-INT32_MAX, le=INT32_MAX, examples=[1])
    players: int = Field(ge=-INT32_MAX, le=INT32_MAX, examples=[42])
    request_id: str | None = Field(
        None,
        max_length=REQUEST_ID_MAX_CHARS,
        description="Idempotency key (else the Idempotency-Key header; else a new uuid4)",
    )


class GameEventOut(BaseModel):
    """The event the gateway emitted for the request."""

    event_id: str
    request_id: str
    game_id: int
    game_name: str
    players: int
    winner: int
    route: RouteName
    gateway_id: str
    occurred_at_ms: int
    schema_version: int


class ErrorOut(BaseModel):
    """Why a request was refused; `field` names the request field at fault, if any."""

    error: str
    field: str
    detail: str


class IngressError(Exception):
    """A refusal to answer with an HTTP status and an ErrorOut body."""

    def __init__(self, status: int, error: str, field: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.body = status, ErrorOut(error=error, field=field, detail=detail)


def _event_out(event: game_pb2.GameEvent) -> GameEventOut:
    fields: dict[str, object] = {name: getattr(event, name) for name in EVENT_FIELDS}
    fields["route"] = route_name(event.route)  # the enum's number, named as the API names it
    return GameEventOut.model_validate(fields)


def _status_error(code: grpc.StatusCode, field: str, detail: str) -> IngressError:
    return IngressError(HTTP_STATUS.get(code, 502), code.name.lower(), field, detail)


def _request_id(body: GameRequest, idempotency_key: str | None) -> str:
    """The body's `request_id` or the `Idempotency-Key` header, checked by the contract.

    Not `X-Request-Id`: proxies (Envoy, Istio) set it on every request, so it would turn
    unrelated requests into retries or conflict with the body's key.
    """
    given = {value for value in (body.request_id, idempotency_key) if value is not None}
    if len(given) > 1:
        raise IngressError(
            422, "invalid_argument", "request_id", "request_id and Idempotency-Key differ"
        )
    request_id = given.pop() if given else str(uuid.uuid4())
    problem = request_id_problem(request_id)
    if problem is not None:
        raise IngressError(422, "invalid_argument", problem.field, problem.reason)
    return request_id


def _route(weights: RouteWeights, request_id: str, forced: str | None) -> RouteName:
    if forced is None:
        return weights.choose(request_id)
    for route in ROUTE_LIST:
        if forced == route:
            return route
    raise IngressError(
        422, "invalid_argument", "X-Squid-Route", f"X-Squid-Route must be {' or '.join(ROUTE_LIST)}"
    )


def create_app(settings: Settings, weights: RouteWeights | None = None) -> FastAPI:
    """The ingress app; gRPC channels open in its lifespan and close with it."""
    chooser = weights or RouteWeights(
        {"kafka": settings.route_weight_kafka, "rabbitmq": settings.route_weight_rabbitmq}
    )
    clients: dict[RouteName, RouteClient] = {}
    metrics = IngressMetrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        targets: dict[RouteName, str] = {
            "kafka": settings.kafka_gateway_target,
            "rabbitmq": settings.rabbitmq_gateway_target,
        }
        credentials = channel_credentials(settings)
        for route, target in targets.items():
            clients[route] = RouteClient(
                route,
                target,
                window_s=settings.ingress_batch_window_ms / 1000,
                max_batch=settings.ingress_batch_max,
                timeout_s=settings.ingress_call_timeout_s,
                metadata=grpc_metadata(settings.write_token),
                credentials=credentials,
            )
        yield
        for client in clients.values():
            await client.close()
        clients.clear()

    app = FastAPI(
        title="squidstream ingress",
        summary="Play games: each request becomes one GameEvent on the Kafka or RabbitMQ route.",
        lifespan=lifespan,
    )
    _install_error_handlers(app)
    app.state.metrics = metrics
    _install_guards(app, settings)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    app.add_api_route("/metrics", metrics.page, methods=["GET"], include_in_schema=False)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(
        "/api/games",
        status_code=201,
        response_model=GameEventOut,
        responses={
            401: {"model": ErrorOut, "description": "SQUID_WRITE_TOKEN is set; bearer missing"},
            413: {"model": ErrorOut, "description": "body above SQUID_INGRESS_MAX_BODY_BYTES"},
            409: {"model": ErrorOut, "description": "request id already used for another game"},
            422: {"model": ErrorOut, "description": "invalid request; `field` names it"},
            503: {"model": ErrorOut, "description": "a gateway or broker is down, or overload"},
            504: {"model": ErrorOut, "description": "the gateway did not answer in time"},
        },
    )
    async def play_game(
        body: GameRequest,
        idempotency_key: Annotated[str | None, Header(max_length=REQUEST_ID_MAX_CHARS)] = None,
        x_squid_route: Annotated[str | None, Header()] = None,
    ) -> GameEventOut:
        """Play one game on a route chosen by a weighted hash of its request id (or pinned)."""
        request_id = _request_id(body, idempotency_key)
        request = game_pb2.PlayRequest(
            request_id=request_id, game_id=body.game_id, players=body.players
        )
        route = _route(chooser, request_id, x_squid_route)
        started = time.perf_counter()
        try:
            result = await clients[route].play(request)
        except RouteFailed as exc:
            metrics.games.labels(route, exc.code.name.lower()).inc()
            raise _status_error(exc.code, "", str(exc)) from exc
        finally:
            metrics.route_seconds.labels(route).observe(time.perf_counter() - started)
        if result.HasField("error"):
            error = result.error
            code = _status_code(error.code)
            metrics.games.labels(route, code.name.lower()).inc()
            raise _status_error(code, error.field, error.message)
        metrics.games.labels(route, "accepted").inc()
        return _event_out(result.event)

    @app.get("/api/routes")
    async def routes() -> dict[str, dict[str, int | str]]:
        """The route weights and gateway addresses this ingress uses."""
        return {
            route: {"weight": chooser.weights.get(route, 0), "target": client.target}
            for route, client in clients.items()
        }

    return app


def _status_code(number: int) -> grpc.StatusCode:
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code
    return grpc.StatusCode.UNKNOWN


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # FastAPI answers a body it cannot read as text (bytes that are not UTF-8) with 400;
        # like every other invalid request, it is a 422 naming its field.
        if exc.status_code == 400:
            body = ErrorOut(error="invalid_argument", field="body", detail=str(exc.detail))
            return JSONResponse(body.model_dump(), status_code=422)
        error = ErrorOut(error=f"http_{exc.status_code}", field="", detail=str(exc.detail))
        return JSONResponse(error.model_dump(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(IngressError)
    async def refused(request: Request, exc: IngressError) -> JSONResponse:
        return JSONResponse(exc.body.model_dump(), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        field = str(first["loc"][-1]) if first["loc"] else ""
        body = ErrorOut(error="invalid_argument", field=field, detail=str(first["msg"]))
        return JSONResponse(body.model_dump(), status_code=422)


def _install_guards(app: FastAPI, settings: Settings) -> None:
    """Limits and the token, innermost first; all inside the metrics middleware, so every
    refusal shows in the request counts. Shedding runs first: under overload it is the
    cheapest answer."""
    app.add_middleware(BodyLimitMiddleware, limit=settings.ingress_max_body_bytes, paths=WRITES)
    if settings.write_token is not None:
        app.add_middleware(BearerTokenMiddleware, token=settings.write_token, protected=WRITES)
    app.add_middleware(LoadSheddingMiddleware, limit=settings.ingress_max_in_flight, paths=WRITES)


def app_from_env() -> FastAPI:
    """The app for `uvicorn --factory`, configured from SQUID_* variables."""
    return create_app(load_settings())
