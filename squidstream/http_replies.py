"""JSON answers sent straight from ASGI middleware, before (or instead of) the app."""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.types import Send


def error_body(error: str, field: str, detail: str) -> dict[str, str]:
    """The ingress's error shape (`error`, `field`, `detail`), which the views' errors share."""
    return {"error": error, "field": field, "detail": detail}


async def send_json(
    send: Send, status: int, body: dict[str, str], headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    """Send a whole JSON response."""
    content = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
