"""Channels to the gateways for every client we ship: the ingress, Locust, the benchmarks.

TLS when SQUID_GATEWAY_TLS is set (the gateways' certificate checked against
SQUID_TLS_CA_FILE, or the system's CAs), and the write token on every call when
SQUID_WRITE_TOKEN is set: a client interceptor adds the `authorization` metadata, so the
callers' code is the same with and without a token. Without either, a plain channel.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import grpc

from squidstream.auth import grpc_metadata
from squidstream.settings import Settings

Options = Sequence[tuple[str, Any]]


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """Credentials to reach the gateways over TLS, or None for plain text."""
    if not settings.gateway_tls:
        return None
    roots = None if settings.tls_ca_file is None else settings.tls_ca_file.read_bytes()
    return grpc.ssl_channel_credentials(root_certificates=roots)


def gateway_channel(settings: Settings, target: str, options: Options = ()) -> grpc.aio.Channel:
    """An asyncio channel to the gateway at `target`, with TLS and the token as set."""
    metadata = grpc_metadata(settings.write_token)
    interceptors = [_AsyncToken(metadata), _AsyncStreamToken(metadata)] if metadata else None
    credentials = channel_credentials(settings)
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(target, credentials, options=options, interceptors=interceptors)


def gateway_channel_sync(settings: Settings, target: str, options: Options = ()) -> grpc.Channel:
    """A blocking channel (Locust's gevent users) to the gateway at `target`, likewise."""
    credentials = channel_credentials(settings)
    channel = (
        grpc.insecure_channel(target, options=options)
        if credentials is None
        else grpc.secure_channel(target, credentials, options=options)
    )
    metadata = grpc_metadata(settings.write_token)
    return grpc.intercept_channel(channel, _SyncToken(metadata)) if metadata else channel


Metadata = tuple[tuple[str, str], ...]


def _with(metadata: Metadata, given: Any) -> list[tuple[str, str]]:
    return [*(given or ()), *metadata]


class _AsyncToken(grpc.aio.UnaryUnaryClientInterceptor):
    def __init__(self, metadata: Metadata) -> None:
        self._metadata = metadata

    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(_async_details(details, self._metadata), request)


class _AsyncStreamToken(grpc.aio.StreamStreamClientInterceptor):
    def __init__(self, metadata: Metadata) -> None:
        self._metadata = metadata

    async def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return await continuation(_async_details(details, self._metadata), request_iterator)


def _async_details(details: Any, metadata: Metadata) -> grpc.aio.ClientCallDetails:
    return grpc.aio.ClientCallDetails(
        details.method,
        details.timeout,
        grpc.aio.Metadata(*_with(metadata, details.metadata)),
        details.credentials,
        details.wait_for_ready,
    )


class _SyncDetails(  # the shape of grpc's own example of a metadata interceptor
    namedtuple(
        "_SyncDetails",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class _SyncToken(grpc.UnaryUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    def __init__(self, metadata: Metadata) -> None:
        self._metadata = metadata

    def _details(self, details: Any) -> Any:
        return _SyncDetails(
            details.method,
            details.timeout,
            _with(self._metadata, details.metadata),
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_stream(
        self, continuation: Any, details: Any, request_iterator: Any
    ) -> Any:
        return continuation(self._details(details), request_iterator)
