"""The root exception of the streams package and its specialisations."""

from __future__ import annotations


class StreamsError(Exception):
    """Anything that goes wrong while projecting, bridging or replaying events."""


class SinkError(StreamsError):
    """A projection store refused or failed a batch; the batch will be retried."""


class MigrationError(StreamsError):
    """A versioned SQL migration could not be read or applied."""


class ReplayError(StreamsError):
    """A replay cannot start or did not finish."""
