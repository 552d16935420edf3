"""Offsets the consumer skipped are found before and inside batches, and only those."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.projection.batch import Record
from streams.worker.gaps import DeliveryCheck, Holes, spanning, with_records


def records(partition: int, *offsets: int) -> list[Record]:
    return [Record(partition, offset, 0, b"") for offset in offsets]


def check(tables_hold: dict[int, int]) -> DeliveryCheck:
    def start_of(partition: int, handles: Sequence[Any]) -> int:
        return tables_hold.get(partition, 0)

    return DeliveryCheck(start_of)


def test_a_first_batch_past_what_the_tables_hold_has_a_hole_before_it() -> None:
    delivery = check({0: 42, 1: 10})
    holes = delivery.holes(records(0, 97, 98) + records(1, 10, 11))
    assert holes.before == {0: (42, 97)}
    assert holes.inside == {}
    assert holes.records == 55


def test_batches_that_follow_each_other_or_deliver_again_have_no_holes() -> None:
    delivery = check({})
    assert not delivery.holes(records(0, 0, 1, 2))
    assert not delivery.holes(records(0, 3, 4))
    assert not delivery.holes(records(0, 1, 2, 3, 4, 5))  # re-delivered from an older offset
    assert not delivery.holes(records(0, 6))


def test_offsets_skipped_between_or_inside_batches_are_holes() -> None:
    delivery = check({})
    delivery.holes(records(0, 0, 1))
    assert delivery.holes(records(0, 5, 6)).before == {0: (2, 5)}
    inside = delivery.holes(records(0, 7, 9, 10, 14))
    assert inside.before == {}
    assert inside.inside == {0: [(8, 9), (11, 14)]}
    assert spanning(inside.inside) == {0: (8, 14)}


def test_after_a_rebalance_each_partition_starts_again_from_the_tables() -> None:
    tables_hold = {0: 0}
    delivery = check(tables_hold)
    delivery.holes(records(0, 0, 1, 2))
    tables_hold[0] = 50  # another worker projected the partition meanwhile
    delivery.forget()
    assert delivery.holes(records(0, 60)).before == {0: (50, 60)}


def test_with_records_keeps_each_log_position_once_in_log_order() -> None:
    mine = records(0, 1, 5) + records(1, 3)
    read = records(0, 2, 3, 4, 5)
    merged = with_records(mine, read)
    positions = [(r.partition, r.offset) for r in merged]
    assert positions == [(0, 1), (0, 2), (0, 3), (0, 4), (0, 5), (1, 3)]
    assert merged[4] is mine[1]  # the delivered copy is kept


@given(st.lists(st.integers(0, 30), min_size=1, max_size=60), st.integers(0, 5))
def test_filling_every_hole_leaves_every_offset_up_to_the_last_delivered(
    offsets: list[int], start: int
) -> None:
    delivery = check({0: start})
    filled: set[int] = set(offsets)
    for chunk in (offsets[i : i + 7] for i in range(0, len(offsets), 7)):
        holes: Holes = delivery.holes(records(0, *chunk))
        for a, b in [*holes.before.values(), *(r for rs in holes.inside.values() for r in rs)]:
            filled.update(range(a, b))
    top = max(offsets)
    assert set(range(start, top + 1)) <= filled
