"""The gRPC names read from the proto are the ones deployed clients call."""

from __future__ import annotations

from squidstream.gateway_methods import PLAY, PLAY_STREAM, SERVICE_NAME


def test_the_service_and_method_paths_are_the_wire_names() -> None:
    assert SERVICE_NAME == "squidstream.v1.GameGateway"
    assert (PLAY, PLAY_STREAM) == (
        "/squidstream.v1.GameGateway/Play",
        "/squidstream.v1.GameGateway/PlayStream",
    )
