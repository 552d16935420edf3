"""ASGI middleware that acts on HTTP requests under some path prefixes and passes the rest.

The ingress's limits and the bearer token of the ingress and the views guard only their API
paths; health, metrics and static files pass straight through.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send


def header(scope: Scope, name: bytes) -> str | None:
    """The first value of header `name` (lower case), read straight from the ASGI scope.

    A plain loop: starlette's `Headers` copies the header list first, and costs about 2 us
    more a request on the ingress's hot path.
    """
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class PrefixMiddleware:
    """Calls `handle` for an HTTP request whose path starts with one of `paths`."""

    def __init__(self, app: ASGIApp, paths: Sequence[str]) -> None:
        self.app = app
        self._paths = tuple(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self._paths):
            await self.handle(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        """What the middleware does to a request under its paths."""
        raise NotImplementedError
