"""The Faust tables reader asks each partition's owner, counts each partition once, and
reports silent or overlapping workers instead of summing them."""

from __future__ import annotations

import json

import httpx
import pytest

from views.errors import StoreUnavailable
from views.models import CounterTable
from views.stores.faust_tables import FaustTablesReader, merge_tables, top_players
from views.stores.worker_registry import WorkerRegistry

NOW_MS = 1_800_000_000_000


def test_merge_sums_numbers_at_the_same_path_and_keeps_keys_of_either_side() -> None:
    left = {"player_wins": {"1": 2, "3": 1}, "worker": {"batches": 4}, "partitions": [0]}
    right = {"player_wins": {"1": 5, "9": 1}, "worker": {"batches": 1}, "partitions": [1]}

    merged = merge_tables(left, right)

    assert merged == {
        "player_wins": {"1": 7, "3": 1, "9": 1},
        "worker": {"batches": 5},
        "partitions": [0, 1],
    }


def test_merge_keeps_the_left_value_when_the_two_sides_disagree_in_kind() -> None:
    assert merge_tables({"a": "text", "b": True}, {"a": 3, "b": True}) == {"a": "text", "b": True}


def test_top_players_rank_by_wins_then_lower_player_number() -> None:
    ranked = top_players({"7": 3, "2": 3, "10": 5, "4": 0})
    assert [(p.player, p.wins) for p in ranked] == [(10, 5), (2, 3), (7, 3)]


def registry(*announced: tuple[str, list[int], int]) -> WorkerRegistry:
    found = WorkerRegistry()
    for url, partitions, age_ms in announced:
        body = {"url": url, "partitions": partitions, "at_ms": NOW_MS - age_ms}
        found.apply(url.encode(), json.dumps(body).encode())
    return found


def reader(found: WorkerRegistry, answers: dict[str, httpx.Response]) -> FaustTablesReader:
    def handle(request: httpx.Request) -> httpx.Response:
        base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        if base not in answers:
            raise httpx.ConnectError("connection refused", request=request)
        return answers[base]

    client = httpx.AsyncClient(transport=httpx.MockTransport(handle))
    return FaustTablesReader(client, found, 4, "app-workers", clock=lambda: NOW_MS)


def page(partitions: list[int], wins: dict[str, int]) -> httpx.Response:
    routes = {"kafka": sum(wins.values())}
    return httpx.Response(
        200, json={"player_wins": wins, "route_counts": routes, "partitions": partitions}
    )


def test_a_tombstone_removes_the_worker_and_an_old_announcement_ages_out() -> None:
    found = registry(("http://w1:6066", [0, 1], 0), ("http://w2:6067", [2, 3], 60_000))
    found.apply(b"http://w1:6066", None)
    assert found.fresh(NOW_MS) == []


@pytest.mark.asyncio
async def test_tables_sum_the_owners_and_report_the_silent_one() -> None:
    found = registry(
        ("http://w1:6066", [0], 0), ("http://w2:6067", [1, 2], 0), ("http://w3:6068", [3], 0)
    )
    answers = {
        "http://w1:6066": page([0], {"1": 3}),
        "http://w2:6067": page([1, 2], {"1": 4, "2": 1}),
    }
    answer = await reader(found, answers).tables()

    assert answer.tables["player_wins"] == {"1": 7, "2": 1}
    assert answer.events == 8
    assert [(w.url, w.ok, w.partitions) for w in answer.workers] == [
        ("http://w1:6066", True, [0]),
        ("http://w2:6067", True, [1, 2]),
        ("http://w3:6068", False, []),
    ]
    assert not answer.coverage.complete
    assert answer.coverage.missing == [3]
    assert answer.store == "faust"


@pytest.mark.asyncio
async def test_a_partition_two_announcements_claim_goes_to_the_newest_and_is_named() -> None:
    found = registry(("http://old:6066", [0, 1, 2, 3], 4000), ("http://new:6067", [2, 3], 0))
    answers = {
        "http://old:6066": page([0, 1], {"1": 2}),
        "http://new:6067": page([2, 3], {"1": 5}),
    }
    answer = await reader(found, answers).tables()

    assert [(w.url, w.assigned) for w in answer.workers] == [
        ("http://new:6067", [2, 3]),
        ("http://old:6066", [0, 1]),
    ]
    assert [(c.partition, c.chosen, c.over) for c in answer.coverage.contested] == [
        (2, "http://new:6067", ["http://old:6066"]),
        (3, "http://new:6067", ["http://old:6066"]),
    ]
    assert answer.coverage.complete
    assert answer.tables["player_wins"] == {"1": 7}


@pytest.mark.asyncio
async def test_an_answer_overlapping_a_newer_workers_partitions_is_left_out_not_summed() -> None:
    found = registry(("http://old:6066", [0, 1], 4000), ("http://new:6067", [2, 3], 0))
    answers = {
        # Still summing partition 2, which the newer worker announced: counted twice if kept.
        "http://old:6066": page([0, 1, 2], {"1": 2}),
        "http://new:6067": page([2, 3], {"1": 5}),
    }
    answer = await reader(found, answers).tables()

    assert answer.tables["player_wins"] == {"1": 5}
    assert answer.coverage.dropped == [2]
    assert answer.coverage.missing == [0, 1]
    assert not answer.coverage.complete


@pytest.mark.asyncio
async def test_one_key_names_the_worker_that_answered_for_each_partition() -> None:
    found = registry(("http://w1:6066", [0, 1], 0), ("http://w2:6067", [2, 3], 0))
    answers = {
        "http://w1:6066": httpx.Response(200, json={"value": 2, "partitions": [0, 1]}),
        "http://w2:6067": httpx.Response(200, json={"value": 3, "partitions": [2, 3]}),
    }
    answer = await reader(found, answers).key(CounterTable.player_wins, "17")

    assert answer.value == 5
    assert answer.values == {"http://w1:6066": 2, "http://w2:6067": 3}
    assert answer.coverage.complete


@pytest.mark.asyncio
async def test_no_fresh_announcement_or_no_answer_is_unavailable() -> None:
    with pytest.raises(StoreUnavailable, match="no worker announced"):
        await reader(registry(("http://w1:6066", [0], 60_000)), {}).tables()
    with pytest.raises(StoreUnavailable, match="no worker answered"):
        await reader(registry(("http://w1:6066", [0], 0)), {}).tables()


@pytest.mark.asyncio
async def test_a_worker_answering_an_error_or_a_non_object_is_reported_not_summed() -> None:
    found = registry(("http://w1:6066", [0, 1], 0), ("http://w2:6067", [2, 3], 0))
    answers = {
        "http://w1:6066": httpx.Response(500, text="boom"),
        "http://w2:6067": httpx.Response(200, json=[1, 2]),
    }
    with pytest.raises(StoreUnavailable, match="no worker answered"):
        await reader(found, answers).tables()
