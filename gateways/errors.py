"""The gateways package's exceptions: one root, and one class per way a request can fail."""

from __future__ import annotations


class GatewayError(Exception):
    """Root of every error raised by the gateways package."""


class InvalidRequest(GatewayError):
    """A request breaks the contract; `field` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class RequestConflict(GatewayError):
    """A request id was already used for a different game or player count."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.field = "request_id"
        self.message = message


class DeadlineExceeded(GatewayError):
    """A call outlasted the gateway's own deadline (gRPC DEADLINE_EXCEEDED)."""


class InvalidConfiguration(GatewayError):
    """The gateway cannot start as configured (e.g. an id the decoder would reject)."""


class Unavailable(GatewayError):
    """Nothing was accepted now, but the same request may succeed later (gRPC UNAVAILABLE)."""


class BrokerUnavailable(Unavailable):
    """The broker did not take the events within the bounded wait; nothing is acknowledged.

    `maybe_sent` is False only when no byte of the batch left this process (the connection
    failed first); after a timeout or a broken connection the broker may still hold some.
    """

    def __init__(self, message: str, *, maybe_sent: bool = False) -> None:
        super().__init__(message)
        self.maybe_sent = maybe_sent


class ReservationsUnavailable(Unavailable):
    """The shared reservation store (Redis) did not answer; nothing is emitted without it."""


class StillPending(Unavailable):
    """Another publish of the same request id did not settle within the bounded wait."""


class ClockOutOfBounds(Unavailable):
    """This gateway's clock is outside the contract's occurred_at bounds; it emits nothing."""
