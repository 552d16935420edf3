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


class BrokerUnavailable(GatewayError):
    """The broker did not take the events within the bounded wait; nothing is acknowledged."""
