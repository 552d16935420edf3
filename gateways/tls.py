"""TLS on the gRPC side: the gateways' server credentials and the ingress's channel credentials."""

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


def channel_credentials(settings: Settings) -> grpc.ChannelCredentials | None:
    """Credentials to reach the gateways over TLS (SQUID_GATEWAY_TLS), or None for plain text.

    The gateways' certificate is checked against SQUID_TLS_CA_FILE, or the system's CAs.
    """
    if not settings.gateway_tls:
        return None
    roots = None if settings.tls_ca_file is None else settings.tls_ca_file.read_bytes()
    return grpc.ssl_channel_credentials(root_certificates=roots)
