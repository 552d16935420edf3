"""The views package's exceptions: one root, adapters translate driver errors into these."""

from __future__ import annotations


class ViewsError(Exception):
    """Root of every error raised by the read API."""


class StoreUnavailable(ViewsError):
    """A store could not answer: unreachable, missing schema, or a driver error."""

    def __init__(self, store: str, reason: str) -> None:
        super().__init__(f"{store} store unavailable: {reason}")
        self.store = store
        self.reason = reason


class BadStoreData(ViewsError):
    """A store holds something that does not follow docs/stores.md."""


class LiveFeedFull(ViewsError):
    """The live feed has its maximum of subscribers (SQUID_VIEWS_LIVE_MAX_SUBSCRIBERS)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the live feed has its maximum of {limit} subscribers; retry later")
        self.limit = limit
