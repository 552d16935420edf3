"""Small helpers for tests on the shared servers: unique names and spare ports."""

from __future__ import annotations

import socket
import uuid


def unique_name(prefix: str) -> str:
    """A name no other test uses: for a topic, queue, Redis prefix or database.

    Only lowercase letters, digits and underscores, so it is valid everywhere (SQL included).
    """
    clean = "".join(ch if ch.isalnum() else "_" for ch in prefix.lower())
    return f"{clean}_{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
