"""The gateway's gRPC service and method paths, read from the compiled `proto/game.proto`.

A renamed package, service or method changes them here and nowhere else: the server, the
ingress, the benchmarks and Locust all call these.
"""

from __future__ import annotations

from typing import Final

from squidstream.proto import game_pb2

_SERVICE: Final = game_pb2.DESCRIPTOR.services_by_name["GameGateway"]
# "squidstream.v1.GameGateway": what health, reflection and the write-token interceptor name.
SERVICE_NAME: Final[str] = _SERVICE.full_name
# The full method paths a gRPC client calls ("/squidstream.v1.GameGateway/Play").
PLAY: Final[str] = f"/{SERVICE_NAME}/{_SERVICE.methods_by_name['Play'].name}"
PLAY_STREAM: Final[str] = f"/{SERVICE_NAME}/{_SERVICE.methods_by_name['PlayStream'].name}"
