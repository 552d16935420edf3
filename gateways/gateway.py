"""The gateway's use case: validate, play, emit once, remember; independent of gRPC."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from gateways.dedup import RecentRequests
from gateways.emitters import Emitter
from gateways.errors import BrokerUnavailable, GatewayError, InvalidRequest, RequestConflict
from gateways.events import ValidRequest, play, validate
from proto import game_pb2

Outcome = game_pb2.GameEvent | GatewayError


def now_ms() -> int:
    """UTC milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


class Gateway:
    """Plays each request once and answers only after the emitter has the new events."""

    def __init__(
        self,
        emitter: Emitter,
        *,
        gateway_id: str,
        max_players: int,
        recent: RecentRequests,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        self.emitter = emitter
        self.gateway_id = gateway_id
        self.max_players = max_players
        self._recent = recent
        self._clock = clock

    async def play_one(self, request: game_pb2.PlayRequest) -> game_pb2.GameEvent:
        """The event for one request; raises the GatewayError that refused it."""
        (outcome,) = await self.play_many([request])
        if isinstance(outcome, GatewayError):
            raise outcome
        return outcome

    async def play_many(self, requests: Sequence[game_pb2.PlayRequest]) -> list[Outcome]:
        """One outcome per request, in order; new events are emitted as one batch."""
        outcomes: list[Outcome] = []
        fresh: dict[str, game_pb2.GameEvent] = {}
        occurred_at_ms = self._clock()
        for request in requests:
            try:
                outcomes.append(self._decide(request, fresh, occurred_at_ms))
            except (InvalidRequest, RequestConflict) as exc:
                outcomes.append(exc)
        if not fresh:
            return outcomes
        try:
            await self.emitter.emit_many(list(fresh.values()))
        except BrokerUnavailable as exc:
            # Nothing of this batch is acknowledged; retries keep their event ids.
            return [exc if _is_fresh(outcome, fresh) else outcome for outcome in outcomes]
        for event in fresh.values():
            self._recent.remember(event)
        return outcomes

    def _decide(
        self,
        request: game_pb2.PlayRequest,
        fresh: dict[str, game_pb2.GameEvent],
        occurred_at_ms: int,
    ) -> game_pb2.GameEvent:
        valid = validate(request, self.max_players)
        known = self._recent.lookup(valid) or _same_batch(valid, fresh)
        if known is not None:
            return known
        event = play(
            valid,
            route=self.emitter.route,
            gateway_id=self.gateway_id,
            occurred_at_ms=occurred_at_ms,
        )
        fresh[valid.request_id] = event
        return event


def _same_batch(
    valid: ValidRequest, fresh: dict[str, game_pb2.GameEvent]
) -> game_pb2.GameEvent | None:
    """A request id repeated inside one batch is the same game, or a conflict."""
    event = fresh.get(valid.request_id)
    if event is not None and (event.game_id, event.players) != (valid.game_id, valid.players):
        raise RequestConflict(
            f"request_id {valid.request_id!r} appears twice in the batch with different games"
        )
    return event


def _is_fresh(outcome: Outcome, fresh: dict[str, game_pb2.GameEvent]) -> bool:
    return isinstance(outcome, game_pb2.GameEvent) and fresh.get(outcome.request_id) is outcome
