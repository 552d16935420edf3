"""The freshness load keeps what a gateway confirmed when the gateway ends the stream early."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest_asyncio

from loadtest.report.freshness import _offer
from squidstream.proto import game_pb2

SERVICE = "squidstream.v1.GameGateway"


async def _confirm_once_then_end(
    requests: AsyncIterator[game_pb2.PlayBatch], context: grpc.aio.ServicerContext[object, object]
) -> AsyncIterator[game_pb2.PlayBatchReply]:
    """A gateway that answers the first batch, then ends the call as its deadline would."""
    async for batch in requests:
        results = [game_pb2.PlayResult(request_id=r.request_id) for r in batch.requests]
        yield game_pb2.PlayBatchReply(results=results)
        # Let the reply reach the client first: an abort right behind it can overtake it on
        # a loaded machine, and then the client was (correctly) told nothing was confirmed.
        await asyncio.sleep(0.5)
        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "outlasted the deadline")


@pytest_asyncio.fixture
async def target() -> AsyncIterator[str]:
    handler = grpc.stream_stream_rpc_method_handler(
        _confirm_once_then_end,
        request_deserializer=game_pb2.PlayBatch.FromString,
        response_serializer=game_pb2.PlayBatchReply.SerializeToString,
    )
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [grpc.method_handlers_generic_handler(SERVICE, {"PlayStream": handler})]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


async def test_a_stream_the_gateway_ends_counts_what_it_confirmed(target: str) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        accepted = await _offer(channel, per_s=200, seconds=0.5)

    assert accepted == 10  # the first batch: 200/s in 50 ms ticks
