"""The stack package's root exception: every failure names the server and the reason."""

from __future__ import annotations


class StackError(Exception):
    """A server of the local stack could not be installed, built, started, checked or stopped."""


class ServerError(StackError):
    """One named server failed; the message says why and where its log is."""

    def __init__(self, server: str, reason: str) -> None:
        super().__init__(f"{server}: {reason}")
        self.server = server
        self.reason = reason
