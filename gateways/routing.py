"""The ingress's side of the gateways: weighted route choice and micro-batched PlayStream calls."""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import itertools
from collections.abc import Mapping
from typing import Final

import grpc

from gateways.errors import GatewayError
from squidstream.contract import ROUTES, RouteName
from squidstream.gateway_methods import PLAY_STREAM
from squidstream.proto import game_pb2

# gRPC's reconnect backoff grows to 120 s by default: a gateway back after a restart would
# stay unreachable from this ingress for minutes. Retry the connection at least every 2 s.
RECONNECT_OPTIONS: Final = (
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 2000),
)
Pending = tuple[game_pb2.PlayRequest, "asyncio.Future[game_pb2.PlayResult]"]


class RouteFailed(GatewayError):
    """A gateway call failed as a whole; `code` is the gRPC status it ended with."""

    def __init__(self, route: RouteName, code: grpc.StatusCode, message: str) -> None:
        super().__init__(f"{route} gateway: {code.name}: {message}")
        self.route = route
        self.code = code


class RouteWeights:
    """Chooses a route for a request id, in proportion to the weights, always the same one.

    A hash of the request id, not a random draw: a retry through the ingress then reaches the
    gateway that answered first, so it is served from that gateway's own reservation at once.
    """

    def __init__(self, weights: Mapping[RouteName, int]) -> None:
        if any(weight < 0 for weight in weights.values()) or sum(weights.values()) <= 0:
            raise ValueError(f"route weights must be >= 0 and not all zero, got {dict(weights)}")
        unknown = set(weights) - set(ROUTES)
        if unknown:
            raise ValueError(f"unknown routes {sorted(unknown)}")
        self.weights = {route: weights[route] for route in ROUTES if weights.get(route, 0) > 0}
        self._routes = list(self.weights)
        self._bounds = list(itertools.accumulate(self.weights.values()))

    def choose(self, request_id: str) -> RouteName:
        digest = hashlib.blake2b(request_id.encode("utf-8", "surrogatepass"), digest_size=8)
        point = int.from_bytes(digest.digest(), "big") % self._bounds[-1]
        return self._routes[bisect.bisect_right(self._bounds, point)]


class RouteClient:
    """One long-lived channel to a gateway; concurrent plays travel together as one batch."""

    def __init__(
        self,
        route: RouteName,
        target: str,
        *,
        window_s: float,
        max_batch: int,
        timeout_s: float,
        metadata: tuple[tuple[str, str], ...] = (),
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self.route = route
        self.target = target
        self._window_s = window_s
        self._max_batch = max_batch
        self._timeout_s = timeout_s
        self._metadata = metadata  # the write token, if the gateways ask for one
        self._channel = (
            grpc.aio.insecure_channel(target, options=RECONNECT_OPTIONS)
            if credentials is None
            else grpc.aio.secure_channel(target, credentials, options=RECONNECT_OPTIONS)
        )
        self._call = self._channel.stream_stream(
            PLAY_STREAM,
            request_serializer=game_pb2.PlayBatch.SerializeToString,
            response_deserializer=game_pb2.PlayBatchReply.FromString,
        )
        self._pending: list[Pending] = []
        self._timer: asyncio.TimerHandle | None = None
        self._sending: set[asyncio.Task[None]] = set()

    async def play(self, request: game_pb2.PlayRequest) -> game_pb2.PlayResult:
        """The gateway's answer to one request; RouteFailed when the call itself failed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[game_pb2.PlayResult] = loop.create_future()
        self._pending.append((request, future))
        if len(self._pending) >= self._max_batch:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._window_s, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.create_task(self._send(batch))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[Pending]) -> None:
        message = game_pb2.PlayBatch(requests=[request for request, _ in batch])
        try:
            call = self._call(iter((message,)), timeout=self._timeout_s, metadata=self._metadata)
            reply = await call.read()
            if not isinstance(reply, game_pb2.PlayBatchReply):
                raise RouteFailed(self.route, grpc.StatusCode.UNAVAILABLE, "stream ended early")
            if len(reply.results) != len(batch):
                raise RouteFailed(self.route, grpc.StatusCode.INTERNAL, "reply size mismatch")
        except grpc.aio.AioRpcError as exc:
            _fail(batch, RouteFailed(self.route, exc.code(), exc.details() or ""))
        except RouteFailed as exc:
            _fail(batch, exc)
        else:
            for (_, future), result in zip(batch, reply.results, strict=True):
                if not future.done():
                    future.set_result(result)

    async def close(self) -> None:
        self._flush()
        if self._sending:
            await asyncio.gather(*self._sending, return_exceptions=True)
        await self._channel.close()


def _fail(batch: list[Pending], error: RouteFailed) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)
