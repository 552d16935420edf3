"""The one retry delay: grows, is capped, is jittered, resets."""

from __future__ import annotations

import random

from hypothesis import given
from hypothesis import strategies as st

from squidstream.backoff import Backoff


@given(st.floats(0.01, 2), st.floats(2, 30), st.integers(1, 40), st.integers())
def test_each_delay_lies_between_half_and_all_of_its_capped_ceiling(
    first: float, cap: float, attempts: int, seed: int
) -> None:
    backoff = Backoff(first, cap, _rng=random.Random(seed))
    for attempt in range(1, attempts + 1):
        ceiling = min(first * 2 ** (attempt - 1), cap)
        assert ceiling / 2 <= backoff.next_delay() <= ceiling


def test_delays_are_jittered_so_many_retriers_spread_out() -> None:
    delays = {Backoff(1, 10, _rng=random.Random(seed)).next_delay() for seed in range(20)}
    assert len(delays) == 20


def test_reset_starts_again_from_the_first_delay() -> None:
    backoff = Backoff(1, 100)
    for _ in range(5):
        backoff.next_delay()
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_a_retry_that_goes_on_for_hours_stays_at_the_cap() -> None:
    backoff = Backoff(first_s=0.1, cap_s=10.0)
    delays = [backoff.next_delay() for _ in range(5_000)]  # 2.0 ** 1024 would overflow
    assert all(5.0 <= delay <= 10.0 for delay in delays[-100:])
