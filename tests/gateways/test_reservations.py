"""One suite for both reservation stores: in memory, and Redis (the shared server, own prefix)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import pytest

from gateways.errors import ReservationsUnavailable
from gateways.reservations import Claim, Reservations, Verdict
from gateways.reservations.memory import MemoryReservations, MemoryStore
from gateways.reservations.redis import RedisReservations
from loadtest.processes import free_port
from squidstream.settings import Settings
from tests.gateways.stack_harness import drop_prefix

# Makes a store; owner and lease (seconds) vary per call. All made by one factory share keys.
Factory = Callable[..., Reservations]


@pytest.fixture(params=["memory", "redis"])
async def make(request: pytest.FixtureRequest) -> AsyncIterator[Factory]:
    made: list[Reservations] = []
    if request.param == "memory":
        store = MemoryStore()

        def factory(*, lease_s: float = 30.0) -> Reservations:
            return MemoryReservations(store, lease_s=lease_s)

    else:
        # The shared Redis under a prefix of this test's own (the stack fixture is sync).
        stack: Settings = request.getfixturevalue("stack")
        prefix = f"test-reservations-{uuid.uuid4().hex[:10]}"
        settings = stack.model_copy(update={"redis_prefix": prefix})

        def factory(*, lease_s: float = 30.0) -> Reservations:
            made.append(RedisReservations(settings, lease_s=lease_s))
            return made[-1]

    yield factory
    for reservations in made:
        await reservations.close()
    if request.param == "redis":
        await drop_prefix(settings)


def _claims(*ids: str, raw: bytes = b"first") -> list[Claim]:
    return [Claim(request_id, raw + request_id.encode()) for request_id in ids]


@pytest.mark.asyncio
async def test_a_new_request_id_is_reserved_with_our_bytes(make: Factory) -> None:
    held = await make().reserve(_claims("a", "b"))
    assert [(h.verdict, h.raw) for h in held] == [
        (Verdict.RESERVED, b"firsta"),
        (Verdict.RESERVED, b"firstb"),
    ]


@pytest.mark.asyncio
async def test_a_live_reservation_makes_others_wait_and_shows_the_first_bytes(
    make: Factory,
) -> None:
    await make().reserve(_claims("a"))
    (held,) = await make().reserve(_claims("a", raw=b"second"))
    assert (held.verdict, held.raw) == (Verdict.PENDING, b"firsta")


@pytest.mark.asyncio
async def test_accepted_reservations_answer_every_later_claim_with_the_first_bytes(
    make: Factory,
) -> None:
    owner = make()
    await owner.reserve(_claims("a", "b"))
    assert await owner.accept(["a", "b"]) == 0
    held = await make().reserve(_claims("a", "b", raw=b"second"))
    assert [(h.verdict, h.raw) for h in held] == [
        (Verdict.ACCEPTED, b"firsta"),
        (Verdict.ACCEPTED, b"firstb"),
    ]


@pytest.mark.asyncio
async def test_an_expired_lease_is_taken_over_keeping_the_reserved_bytes(make: Factory) -> None:
    await make(lease_s=0).reserve(_claims("a"))  # its owner died at once
    taker = make()
    (held,) = await taker.reserve(_claims("a", raw=b"second"))
    assert (held.verdict, held.raw) == (Verdict.TAKEN_OVER, b"firsta")
    (again,) = await make().reserve(_claims("a", raw=b"third"))
    assert again.verdict is Verdict.PENDING  # the taker holds a fresh lease
    assert await taker.accept(["a"]) == 0


@pytest.mark.asyncio
async def test_a_dead_owners_late_accept_counts_as_lost_and_changes_nothing(
    make: Factory,
) -> None:
    dead = make(lease_s=0)
    await dead.reserve(_claims("a"))
    await make().reserve(_claims("a", raw=b"second"))
    assert await dead.accept(["a"]) == 1
    (held,) = await make().reserve(_claims("a", raw=b"third"))
    assert (held.verdict, held.raw) == (Verdict.PENDING, b"firsta")


@pytest.mark.asyncio
async def test_release_after_a_failed_publish_forgets_only_our_own(make: Factory) -> None:
    ours, other = make(), make()
    await ours.reserve(_claims("a"))
    await other.release(["a"], maybe_sent=False)  # not its reservation: nothing happens
    assert (await make().reserve(_claims("a")))[0].verdict is Verdict.PENDING
    await ours.release(["a"], maybe_sent=False)
    (held,) = await make().reserve(_claims("a", raw=b"second"))
    assert (held.verdict, held.raw) == (Verdict.RESERVED, b"seconda")


@pytest.mark.asyncio
async def test_an_unsure_release_keeps_the_bytes_for_an_immediate_takeover(make: Factory) -> None:
    ours = make()
    await ours.reserve(_claims("a"))
    await ours.release(["a"], maybe_sent=True)
    (held,) = await make().reserve(_claims("a", raw=b"second"))
    assert (held.verdict, held.raw) == (Verdict.TAKEN_OVER, b"firsta")


@pytest.mark.asyncio
async def test_request_ids_of_any_printable_unicode_are_distinct_keys(make: Factory) -> None:
    ids = ["a:b", "a", "🦑" * 128, "a*", "[a]", "a b"]
    held = await make().reserve([Claim(i, i.encode()) for i in ids])
    assert {h.verdict for h in held} == {Verdict.RESERVED}
    again = await make().reserve([Claim(i, b"x") for i in ids])
    assert [h.raw for h in again] == [i.encode() for i in ids]


@pytest.mark.asyncio
@pytest.mark.stack
async def test_redis_not_listening_is_unavailable_within_the_bound(isolated: Settings) -> None:
    nowhere = isolated.model_copy(update={"redis_port": free_port(), "broker_timeout_s": 1.0})
    reservations = RedisReservations(nowhere)
    try:
        with pytest.raises(ReservationsUnavailable):
            await reservations.reserve(_claims("a"))
        assert not await reservations.healthy()
    finally:
        await reservations.close()
