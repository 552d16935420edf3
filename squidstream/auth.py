"""Bearer tokens and bind addresses: the one definition every server and client uses.

The ingress (HTTP `Authorization`), the gateways (gRPC metadata `authorization`) and the views
parse and compare tokens here, so a header that one of them accepts, all of them accept.
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import Final

from pydantic import SecretStr

# gRPC metadata keys are lowercase; HTTP header names are case-insensitive.
AUTHORIZATION: Final = "authorization"
SCHEME: Final = "bearer"
LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` value, else None."""
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != SCHEME or not token:
        return None
    return token


def token_matches(expected: SecretStr | None, header: str | None) -> bool:
    """Whether a header carries the expected token; no token configured lets everyone in.

    hmac.compare_digest takes as long for a wrong first byte as for a wrong last one, so
    response times tell an attacker nothing about how much of a guess was right.
    """
    if expected is None:
        return True
    given = bearer_token(header)
    if given is None:
        return False
    return hmac.compare_digest(
        given.encode("utf-8", "surrogatepass"), expected.get_secret_value().encode("utf-8")
    )


def authorization_value(token: SecretStr | None) -> str | None:
    """The `Authorization` value a client sends with a token, or None without one."""
    return None if token is None else f"Bearer {token.get_secret_value()}"


def http_headers(token: SecretStr | None) -> dict[str, str]:
    """HTTP headers that carry the token (none without one)."""
    value = authorization_value(token)
    return {} if value is None else {"Authorization": value}


def grpc_metadata(token: SecretStr | None) -> tuple[tuple[str, str], ...]:
    """gRPC call metadata that carries the token (empty without one)."""
    value = authorization_value(token)
    return () if value is None else ((AUTHORIZATION, value),)


def is_loopback(host: str) -> bool:
    """Whether a bind address reaches only this machine (an empty host means every interface)."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # another host name may resolve to any interface: assume the worst


def unprotected_bind_problem(what: str, host: str, token: SecretStr | None) -> str | None:
    """Why `what` must not listen on `host` without a write token, or None when it may."""
    if token is not None or is_loopback(host):
        return None
    return (
        f"{what} refuses to listen on {host or 'every interface'!r} without a write token: "
        "anyone who reaches it could submit games. Set SQUID_WRITE_TOKEN (clients then send "
        "`Authorization: Bearer <token>`), or bind a loopback address."
    )
