"""The root exception of the streams package and its specialisations.

Store errors come in three kinds, and each is handled differently: a transient one (the
store is down, slow or busy) is retried with backoff; a poison one (the store refuses a
value) is narrowed to the single event by bisecting the batch and that event dead-lettered;
a behind one (the store lost acknowledged writes) makes the store catch up from the log.
"""

from __future__ import annotations


class StreamsError(Exception):
    """Anything that goes wrong while projecting, bridging or replaying events."""


class SinkError(StreamsError):
    """A projection store failed a batch for a reason that may pass: retried with backoff."""


class PoisonError(StreamsError):
    """A store refuses a value in the batch; retrying the same batch would fail again."""


class StoreBehind(StreamsError):
    """A store's tracking record ends before the batch starts: it lost writes, or is new."""

    def __init__(self, store: str, partition: int, applied_next: int, first: int) -> None:
        super().__init__(
            f"{store} holds partition {partition} up to offset {applied_next}, "
            f"but the batch starts at {first}"
        )
        self.store, self.partition = store, partition
        self.applied_next, self.first = applied_next, first


class MigrationError(StreamsError):
    """A versioned SQL migration could not be read or applied."""


class ReplayError(StreamsError):
    """A replay cannot start or did not finish."""


class WorkerStalled(StreamsError):
    """The worker has lag but committed nothing for too long."""
