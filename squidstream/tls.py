"""TLS of our own HTTP listeners (the ingress and the views), from settings."""

from __future__ import annotations

from typing import TypedDict

from squidstream.settings import Settings


class UvicornTls(TypedDict):
    """uvicorn.run's keyword arguments for TLS (both None: plain HTTP)."""

    ssl_certfile: str | None
    ssl_keyfile: str | None


def uvicorn_tls_options(settings: Settings) -> UvicornTls:
    """uvicorn's `ssl_certfile` / `ssl_keyfile` from SQUID_TLS_CERT_FILE / _KEY_FILE."""
    cert, key = settings.tls_cert_file, settings.tls_key_file
    return UvicornTls(
        ssl_certfile=None if cert is None else str(cert),
        ssl_keyfile=None if key is None else str(key),
    )


def http_scheme(settings: Settings) -> str:
    """`https` when this process's listener has a certificate, else `http`."""
    return "https" if settings.tls_cert_file is not None else "http"
