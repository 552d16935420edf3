"""The gateway's use case: validate, play, reserve, emit once, settle; independent of gRPC.

Every new request id is reserved in the shared store before its event is published (see
gateways/reservations and docs/retries.md), so a retry on any gateway, after a restart or
while the first publish is in flight gets the first answer, byte for byte.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

from gateways.emitters import Emitter
from gateways.errors import (
    BrokerUnavailable,
    ClockOutOfBounds,
    GatewayError,
    RequestConflict,
    ReservationsUnavailable,
    StillPending,
)
from gateways.events import Encoded, ValidRequest, play, validate
from gateways.metrics import GatewayMetrics
from gateways.reservations import Claim, Held, Reservations, Verdict
from squidstream.backoff import Backoff
from squidstream.contract import occurred_at_problem
from squidstream.proto import game_pb2

log = logging.getLogger(__name__)

Outcome = game_pb2.GameEvent | GatewayError
# How often a request waits on another gateway's pending publish: quickly first, then less;
# jittered like every other retry, so the requests waiting on one publish spread out.
FIRST_POLL_S: Final = 0.01
MAX_POLL_S: Final = 0.2


def now_ms() -> int:
    """UTC milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


class Gateway:
    """Plays each request once and answers only after the emitter has the new events."""

    def __init__(
        self,
        emitter: Emitter,
        reservations: Reservations,
        *,
        gateway_id: str,
        max_players: int,
        pending_wait_s: float,
        clock: Callable[[], int] = now_ms,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self.emitter = emitter
        self.metrics = metrics or GatewayMetrics(emitter.route)
        self.reservations = reservations
        self.gateway_id = gateway_id
        self.max_players = max_players
        self._pending_wait_s = pending_wait_s
        self._clock = clock

    async def play_one(self, request: game_pb2.PlayRequest) -> game_pb2.GameEvent:
        """The event for one request; raises the GatewayError that refused it."""
        (outcome,) = await self.play_many([request])
        if isinstance(outcome, GatewayError):
            raise outcome
        return outcome

    async def play_many(self, requests: Sequence[game_pb2.PlayRequest]) -> list[Outcome]:
        """One outcome per request, in order; new events are reserved and emitted as one batch."""
        occurred_at_ms = self._clock()
        clock_problem = occurred_at_problem(occurred_at_ms)
        checked: list[ValidRequest | GatewayError] = []
        decided: dict[str, game_pb2.GameEvent] = {}
        for request in requests:
            try:
                valid = validate(request, self.max_players)
            except GatewayError as exc:
                checked.append(exc)
                continue
            if clock_problem is not None:
                # An event stamped outside the bounds would be dead-lettered after a 201.
                checked.append(ClockOutOfBounds(f"gateway clock: {clock_problem.reason}"))
                continue
            checked.append(valid)
            if valid.request_id not in decided:  # a repeat in the batch is the same game
                decided[valid.request_id] = self._play(valid, occurred_at_ms)
        answers = await self._settle(decided)
        outcomes = [_answer(item, answers) for item in checked]
        self.metrics.refused(item for item in outcomes if isinstance(item, GatewayError))
        return outcomes

    def _play(self, valid: ValidRequest, occurred_at_ms: int) -> game_pb2.GameEvent:
        route, gateway_id = self.emitter.route, self.gateway_id
        return play(valid, route=route, gateway_id=gateway_id, occurred_at_ms=occurred_at_ms)

    async def _settle(self, decided: dict[str, game_pb2.GameEvent]) -> dict[str, Outcome]:
        """Reserve, publish and settle every decided event; wait (bounded) on others' publishes."""
        answers: dict[str, Outcome] = {}
        waiting = {request_id: Encoded.of(event) for request_id, event in decided.items()}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._pending_wait_s
        backoff: Backoff | None = None  # made on the first wait: most batches never wait
        while waiting:
            claims = [Claim(request_id, encoded.raw) for request_id, encoded in waiting.items()]
            try:
                held = await self.reservations.reserve(claims)
            except ReservationsUnavailable as exc:
                answers.update(dict.fromkeys(waiting, exc))  # never accept without a reservation
                break
            self.metrics.reserved(held)
            waiting = self._sort(claims, held, decided, answers)
            answers.update(await self._publish(claims, held, decided))
            if not waiting:
                break
            backoff = backoff or Backoff(first_s=FIRST_POLL_S, cap_s=MAX_POLL_S)
            delay = backoff.next_delay()
            if loop.time() + delay > deadline:
                late = StillPending("another publish of this request_id is not settled; retry")
                answers.update(dict.fromkeys(waiting, late))
                break
            await asyncio.sleep(delay)
        return answers

    def _sort(
        self,
        claims: list[Claim],
        held: list[Held],
        decided: dict[str, game_pb2.GameEvent],
        answers: dict[str, Outcome],
    ) -> dict[str, Encoded]:
        """Answer what is settled; return the claims that must wait for another publish."""
        waiting: dict[str, Encoded] = {}
        for claim, found in zip(claims, held, strict=True):
            if found.verdict is Verdict.ACCEPTED:
                answers[claim.request_id] = game_pb2.GameEvent.FromString(found.raw)
                self.metrics.replayed.inc()
            elif found.verdict is Verdict.PENDING:
                first = game_pb2.GameEvent.FromString(found.raw)
                mine = decided[claim.request_id]
                if (first.game_id, first.players) != (mine.game_id, mine.players):
                    answers[claim.request_id] = first  # a conflict needs no waiting
                else:
                    waiting[claim.request_id] = Encoded(mine.event_id, claim.raw)
        return waiting

    async def _publish(
        self, claims: list[Claim], held: list[Held], decided: dict[str, game_pb2.GameEvent]
    ) -> dict[str, Outcome]:
        """Emit what we now hold (our own events and taken-over bytes), then mark it accepted."""
        ours = [
            (claim.request_id, found)
            for claim, found in zip(claims, held, strict=True)
            if found.verdict in (Verdict.RESERVED, Verdict.TAKEN_OVER)
        ]
        if not ours:
            return {}
        # Our own reservations hold our decided events' bytes; only taken-over ones need parsing.
        events = {
            rid: decided[rid]
            if found.verdict is Verdict.RESERVED
            else game_pb2.GameEvent.FromString(found.raw)
            for rid, found in ours
        }
        started = time.perf_counter()
        try:
            await self.emitter.emit_many(
                [Encoded(events[request_id].event_id, found.raw) for request_id, found in ours]
            )
        except BrokerUnavailable as exc:
            self.metrics.publish_failures.inc()
            await self._release(ours, exc)
            return dict.fromkeys(events, exc)
        except asyncio.CancelledError:
            # The caller gave up (deadline, disconnect) mid-publish: end our leases now, so
            # the next retry takes over the same bytes at once instead of waiting out a lease
            # that no live call will ever settle (a retry that keeps waiting, then taking over
            # and being cut off again, would never get an answer).
            gone = BrokerUnavailable("the call was cancelled while publishing", maybe_sent=True)
            await asyncio.shield(self._release(ours, gone))
            raise
        self._count_published(ours, time.perf_counter() - started)
        try:
            lost = await self.reservations.accept(list(events))
        except ReservationsUnavailable as exc:
            # The broker has the events, so the answer stands; the reservations stay pending
            # and a retry after the lease re-publishes the same bytes (de-duplicated by id).
            log.warning("accepted %d events but could not record it: %s", len(events), exc)
        else:
            if lost:
                log.warning("%d reservations were taken over while their publish ran", lost)
        return dict(events)

    def _count_published(self, ours: list[tuple[str, Held]], seconds: float) -> None:
        self.metrics.publish_seconds.observe(seconds)
        new = sum(1 for _, found in ours if found.verdict is Verdict.RESERVED)
        self.metrics.accepted.inc(new)
        self.metrics.republished.inc(len(ours) - new)

    async def _release(self, ours: list[tuple[str, Held]], error: BrokerUnavailable) -> None:
        """Give up reservations after a failed publish, keeping bytes that may be out there."""
        # Taken-over bytes may have been published by their first owner: never forget those.
        fresh = [rid for rid, found in ours if found.verdict is Verdict.RESERVED]
        taken = [rid for rid, found in ours if found.verdict is Verdict.TAKEN_OVER]
        try:
            await self.reservations.release(fresh, maybe_sent=error.maybe_sent)
            await self.reservations.release(taken, maybe_sent=True)
        except ReservationsUnavailable as exc:
            log.warning("could not release %d reservations (leases end them): %s", len(ours), exc)


def _answer(item: ValidRequest | GatewayError, answers: dict[str, Outcome]) -> Outcome:
    """The outcome for one request: its refusal, or the settled answer if it is the same game."""
    if isinstance(item, GatewayError):
        return item
    answer = answers[item.request_id]
    if isinstance(answer, game_pb2.GameEvent) and (answer.game_id, answer.players) != (
        item.game_id,
        item.players,
    ):
        return RequestConflict(
            f"request_id {item.request_id!r} was already used for game_id "
            f"{answer.game_id} with {answer.players} players"
        )
    return answer
