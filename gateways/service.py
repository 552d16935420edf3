"""The gRPC face of the gateway: decode, call Gateway, map refusals to status codes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from typing import Final, TypeVar

import grpc
from google.protobuf.message import DecodeError, Message

from gateways.errors import (
    DeadlineExceeded,
    GatewayError,
    InvalidRequest,
    RequestConflict,
    Unavailable,
)
from gateways.gateway import Gateway, Outcome
from squidstream.gateway_methods import SERVICE_NAME as SERVICE_NAME
from squidstream.proto import game_pb2

# Batches of one stream played concurrently: reading the next one while the broker acks this one.
STREAM_PIPELINE_DEPTH: Final = 4
FIELD_METADATA_KEY: Final = "squid-field"

M = TypeVar("M", bound=Message)
T = TypeVar("T")
Context = grpc.aio.ServicerContext[bytes, bytes]


def status_of(error: GatewayError) -> grpc.StatusCode:
    """The gRPC status a refusal maps to."""
    if isinstance(error, InvalidRequest):
        return grpc.StatusCode.INVALID_ARGUMENT
    if isinstance(error, RequestConflict):
        return grpc.StatusCode.ALREADY_EXISTS
    if isinstance(error, Unavailable):
        return grpc.StatusCode.UNAVAILABLE
    if isinstance(error, DeadlineExceeded):
        return grpc.StatusCode.DEADLINE_EXCEEDED
    return grpc.StatusCode.INTERNAL


def _field_of(error: GatewayError) -> str:
    return getattr(error, "field", "")


def _result(request_id: str, outcome: Outcome) -> game_pb2.PlayResult:
    if isinstance(outcome, GatewayError):
        code = status_of(outcome).value[0]
        error = game_pb2.PlayError(code=code, message=str(outcome), field=_field_of(outcome))
        return game_pb2.PlayResult(request_id=request_id, error=error)
    return game_pb2.PlayResult(request_id=request_id, event=outcome)


class GameGatewayServicer:
    """Handlers take and return raw bytes, so size and decoding errors name their field."""

    def __init__(
        self, gateway: Gateway, *, max_message_bytes: int, max_batch: int, deadline_s: float
    ) -> None:
        self._gateway = gateway
        self._max_message_bytes = max_message_bytes
        self._max_batch = max_batch
        self._deadline_s = deadline_s

    def _deadline(self) -> float:
        return asyncio.get_running_loop().time() + self._deadline_s

    async def _until(self, deadline: float, awaitable: Awaitable[T]) -> T:
        """The awaitable's result, or DeadlineExceeded once the call's deadline has passed.

        The server's own bound on a call, whatever deadline the client set (or none): a
        client cannot hold one of the limited call slots open for longer.
        """
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            return await asyncio.wait_for(awaitable, max(0.0, remaining))
        except TimeoutError as exc:
            raise DeadlineExceeded(
                f"the call outlasted the gateway's deadline of {self._deadline_s:g} s"
            ) from exc

    def _invalid(self, field: str, message: str) -> InvalidRequest:
        # A whole call refused here never reaches Gateway.play_many, which counts the rest.
        error = InvalidRequest(field, message)
        self._gateway.metrics.refused((error,))
        return error

    def _parse(self, raw: bytes, message: type[M], field: str) -> M:
        if len(raw) > self._max_message_bytes:
            raise self._invalid(
                field, f"{field} is {len(raw)} bytes, at most {self._max_message_bytes}"
            )
        try:
            return message.FromString(raw)
        except DecodeError as exc:
            raise self._invalid(field, f"{field} is not a valid {message.__name__}") from exc

    async def _abort(self, context: Context, error: GatewayError) -> None:
        context.set_trailing_metadata(((FIELD_METADATA_KEY, _field_of(error)),))
        await context.abort(status_of(error), str(error))

    async def play(self, raw: bytes, context: Context) -> bytes:
        try:
            request = self._parse(raw, game_pb2.PlayRequest, "request")
            event = await self._until(self._deadline(), self._gateway.play_one(request))
        except GatewayError as exc:
            await self._abort(context, exc)
            raise AssertionError("unreachable: abort raises") from exc
        return game_pb2.PlayReply(event=event).SerializeToString()

    async def _answer(self, raw: bytes) -> bytes:
        batch = self._parse(raw, game_pb2.PlayBatch, "batch")
        if len(batch.requests) > self._max_batch:
            raise self._invalid(
                "requests",
                f"requests has {len(batch.requests)} entries, at most {self._max_batch}",
            )
        outcomes = await self._gateway.play_many(batch.requests)
        results = [
            _result(request.request_id, outcome)
            for request, outcome in zip(batch.requests, outcomes, strict=True)
        ]
        return game_pb2.PlayBatchReply(results=results).SerializeToString()

    async def play_stream(
        self, raws: AsyncIterator[bytes], context: Context
    ) -> AsyncIterator[bytes]:
        pending: asyncio.Queue[asyncio.Task[bytes] | None] = asyncio.Queue(STREAM_PIPELINE_DEPTH)

        async def read() -> None:
            try:
                async for raw in raws:
                    await pending.put(asyncio.create_task(self._answer(raw)))
            finally:
                await pending.put(None)

        reader = asyncio.create_task(read())
        deadline = self._deadline()
        try:
            while True:
                try:
                    task = await self._until(deadline, pending.get())
                    if task is None:
                        return
                    reply = await self._until(deadline, task)
                except GatewayError as exc:
                    await self._abort(context, exc)
                    return  # abort raises; this only tells the type checker
                yield reply
        finally:
            reader.cancel()
            while not pending.empty():
                if (leftover := pending.get_nowait()) is not None:
                    leftover.cancel()

    def handler(self) -> grpc.GenericRpcHandler:
        """The service's method handlers, serializing nothing themselves."""
        return grpc.method_handlers_generic_handler(
            SERVICE_NAME,
            {
                "Play": grpc.unary_unary_rpc_method_handler(self.play),
                "PlayStream": grpc.stream_stream_rpc_method_handler(self.play_stream),
            },
        )
