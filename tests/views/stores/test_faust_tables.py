"""The Faust tables reader sums every worker's answer and reports silent workers."""

from __future__ import annotations

import httpx
import pytest

from views.stores.faust_tables import TABLES_PATH, FaustTablesReader, merge_tables


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


def _worker_transport(answers: dict[str, httpx.Response]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        assert request.url.path == TABLES_PATH
        if base not in answers:
            raise httpx.ConnectError("connection refused", request=request)
        return answers[base]

    return httpx.MockTransport(handle)


@pytest.mark.asyncio
async def test_tables_sum_answering_workers_and_report_the_silent_one() -> None:
    transport = _worker_transport(
        {
            "http://w1:6066": httpx.Response(200, json={"route_counts": {"kafka": 3}}),
            "http://w2:6067": httpx.Response(
                200, json={"route_counts": {"kafka": 4, "rabbitmq": 1}}
            ),
        }
    )
    urls = ["http://w1:6066", "http://w2:6067", "http://w3:6068"]
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await FaustTablesReader(client, urls).tables()

    assert answer.tables == {"route_counts": {"kafka": 7, "rabbitmq": 1}}
    assert [(w.url, w.ok) for w in answer.workers] == [
        (urls[0], True),
        (urls[1], True),
        (urls[2], False),
    ]
    assert answer.store == "faust"


@pytest.mark.asyncio
async def test_a_worker_answering_an_error_or_non_object_is_reported_not_summed() -> None:
    transport = _worker_transport(
        {
            "http://w1:6066": httpx.Response(500, text="boom"),
            "http://w2:6067": httpx.Response(200, json=[1, 2]),
        }
    )
    async with httpx.AsyncClient(transport=transport) as client:
        answer = await FaustTablesReader(client, ["http://w1:6066", "http://w2:6067"]).tables()

    assert answer.tables == {}
    assert [w.ok for w in answer.workers] == [False, False]
    assert all(w.error for w in answer.workers)
