"""The bearer token on HTTP: an ASGI middleware the ingress and the views share.

It answers 401 before the app reads the body or validates anything, so a caller without the
token learns nothing about the API and costs no parsing. Paths outside `protected` (health,
metrics, the dashboard's files) stay open.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from pydantic import SecretStr
from starlette.types import ASGIApp, Receive, Scope, Send

from squidstream.auth import token_matches
from squidstream.http_replies import error_body, send_json

UNAUTHENTICATED_DETAIL: Final = "missing or wrong token: send `Authorization: Bearer <token>`"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class BearerTokenMiddleware:
    """Refuses HTTP requests under `protected` path prefixes that lack the token."""

    def __init__(self, app: ASGIApp, *, token: SecretStr, protected: Sequence[str]) -> None:
        self.app = app
        self._token = token
        self._protected = tuple(protected)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self._protected):
            await self.app(scope, receive, send)
            return
        if token_matches(self._token, _header(scope, b"authorization")):
            await self.app(scope, receive, send)
            return
        body = error_body("unauthenticated", "Authorization", UNAUTHENTICATED_DETAIL)
        await send_json(send, 401, body, [(b"www-authenticate", b'Bearer realm="squidstream"')])
