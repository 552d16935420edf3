"""TLS on the gRPC side: the gateways' server credentials (clients: squidstream.grpc_client)."""

from __future__ import annotations

import grpc

from squidstream.settings import Settings


def server_credentials(settings: Settings) -> grpc.ServerCredentials | None:
    """The gateway's certificate and key (SQUID_TLS_*), or None to listen in plain text."""
    if settings.tls_cert_file is None or settings.tls_key_file is None:
        return None
    key = settings.tls_key_file.read_bytes()
    chain = settings.tls_cert_file.read_bytes()
    return grpc.ssl_server_credentials([(key, chain)])
