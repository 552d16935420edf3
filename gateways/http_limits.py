"""The ingress's HTTP limits: a body-size cap (413) and load shedding (503), as ASGI middleware.

Both answer before FastAPI parses anything, so an oversized or surplus request costs a few
bytes of work, never a JSON parse or a gRPC call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from squidstream.http_replies import error_body, send_json
from squidstream.prefix_middleware import PrefixMiddleware, header

RETRY_AFTER_S: Final = b"1"


def _content_length(scope: Scope) -> int | None:
    declared = header(scope, b"content-length")
    try:
        return None if declared is None else int(declared)
    except ValueError:
        return None


def _too_large(limit: int) -> dict[str, str]:
    return error_body("payload_too_large", "body", f"the request body exceeds {limit} bytes")


class BodyLimitMiddleware(PrefixMiddleware):
    """Reads at most `limit` body bytes of a request under `paths`; more gets 413.

    The body is read here, up to the limit, and replayed to the app: a request body is a
    few hundred bytes, and this way a chunked body without Content-Length is capped too.
    """

    def __init__(self, app: ASGIApp, *, limit: int, paths: Sequence[str]) -> None:
        super().__init__(app, paths)
        self._limit = limit

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _content_length(scope)
        if declared is not None and declared > self._limit:
            await send_json(send, 413, _too_large(self._limit))
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = bytes(message.get("body", b""))
            size += len(chunk)
            if size > self._limit:
                await send_json(send, 413, _too_large(self._limit))
                return
            chunks.append(chunk)
            more = bool(message.get("more_body", False))
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # later reads wait for the disconnect, as ASGI says
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


class LoadSheddingMiddleware(PrefixMiddleware):
    """At most `limit` requests under `paths` in flight; one more gets 503 and Retry-After.

    Queueing without end would only turn overload into timeouts for everyone; a fast 503
    tells a client to come back, and keeps the requests in flight fast.
    """

    def __init__(self, app: ASGIApp, *, limit: int, paths: Sequence[str]) -> None:
        super().__init__(app, paths)
        self._limit = limit
        self.in_flight = 0

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.in_flight >= self._limit:
            detail = f"the ingress has {self._limit} requests in flight; retry later"
            body = error_body("unavailable", "", detail)
            await send_json(send, 503, body, [(b"retry-after", RETRY_AFTER_S)])
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1
