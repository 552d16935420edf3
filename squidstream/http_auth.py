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
from squidstream.prefix_middleware import PrefixMiddleware, header

UNAUTHENTICATED_DETAIL: Final = "missing or wrong token: send `Authorization: Bearer <token>`"


class BearerTokenMiddleware(PrefixMiddleware):
    """Refuses HTTP requests under `protected` path prefixes that lack the token."""

    def __init__(self, app: ASGIApp, *, token: SecretStr, protected: Sequence[str]) -> None:
        super().__init__(app, protected)
        self._token = token

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if token_matches(self._token, header(scope, b"authorization")):
            await self.app(scope, receive, send)
            return
        body = error_body("unauthenticated", "Authorization", UNAUTHENTICATED_DETAIL)
        await send_json(send, 401, body, [(b"www-authenticate", b'Bearer realm="squidstream"')])
