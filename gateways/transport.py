"""The gateways' gRPC transport limits, from settings: what a client may cost a gateway."""

from __future__ import annotations

from squidstream.settings import Settings

ServerOption = tuple[str, int]


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def server_options(settings: Settings) -> list[ServerOption]:
    """Channel arguments of a gateway's server (see docs/security.md, transport limits)."""
    return [
        # A message above our own limit is refused by the transport before it is read.
        ("grpc.max_receive_message_length", settings.gateway_max_message_bytes),
        ("grpc.max_send_message_length", settings.gateway_max_reply_bytes),
        # Pings from the server find dead peers that hold a call open; a peer that does not
        # answer within the timeout is dropped.
        ("grpc.keepalive_time_ms", _ms(settings.gateway_keepalive_s)),
        ("grpc.keepalive_timeout_ms", _ms(min(20.0, settings.gateway_keepalive_s))),
        # Keepalive enforcement: a client pinging more often than this (or at all while it
        # has no call open) gets two strikes, then GOAWAY `too_many_pings`.
        (
            "grpc.http2.min_recv_ping_interval_without_data_ms",
            _ms(settings.gateway_min_ping_interval_s),
        ),
        ("grpc.http2.min_ping_interval_without_data_ms", _ms(settings.gateway_min_ping_interval_s)),
        ("grpc.http2.max_ping_strikes", 2),
        ("grpc.keepalive_permit_without_calls", 0),
        # Connections without a call for this long are closed (clients reconnect at need).
        ("grpc.max_connection_idle_ms", _ms(settings.gateway_max_connection_idle_s)),
    ]
