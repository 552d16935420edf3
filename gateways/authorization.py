"""The write token on the gRPC side: calls to the game service without it are UNAUTHENTICATED.

Health and reflection stay open, so probes and tooling work without the token.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final, TypeVar

import grpc
from pydantic import SecretStr

from squidstream.auth import AUTHORIZATION, token_matches

REFUSAL: Final = "missing or wrong write token: send metadata `authorization: Bearer <token>`"
Req = TypeVar("Req")
Resp = TypeVar("Resp")
Context = grpc.aio.ServicerContext[Any, Any]


def _authorization(details: grpc.HandlerCallDetails) -> str | None:
    for key, value in details.invocation_metadata or ():
        if key == AUTHORIZATION:
            return value if isinstance(value, str) else None
    return None


async def _refuse_unary(request: object, context: Context) -> bytes:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)
    raise AssertionError("unreachable: abort raises")


async def _refuse_stream(requests: AsyncIterator[object], context: Context) -> None:
    # A coroutine, not a generator: it answers no message and never reads one.
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, REFUSAL)


def _refusal(handler: grpc.RpcMethodHandler[Req, Resp]) -> grpc.RpcMethodHandler[Req, Resp]:
    """A handler of the same kind as `handler` that refuses before reading the request."""
    if handler.request_streaming:
        return grpc.stream_stream_rpc_method_handler(_refuse_stream)
    return grpc.unary_unary_rpc_method_handler(_refuse_unary)


class WriteTokenInterceptor(grpc.aio.ServerInterceptor):
    """Lets a call to `service` through only with the write token in its metadata."""

    def __init__(self, token: SecretStr, service: str) -> None:
        self._token = token
        self._prefix = f"/{service}/"

    async def intercept_service(
        self,
        continuation: Callable[
            [grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Req, Resp] | None]
        ],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler[Req, Resp] | None:
        handler = await continuation(handler_call_details)
        if handler is None or not handler_call_details.method.startswith(self._prefix):
            return handler
        if token_matches(self._token, _authorization(handler_call_details)):
            return handler
        return _refusal(handler)
