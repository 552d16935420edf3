"""Where our processes call each other: the gateway's gRPC methods and the worker's table pages.

The gRPC names come from the compiled `proto/game.proto`, so a renamed package, service or
method changes them here and nowhere else. Every process that asks a worker for its Faust
tables builds the address with `worker_tables_url`; the worker serves the same paths.
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

# A worker's table values and counters as JSON; one key at `{TABLES_PATH}{table}/{key}/`.
TABLES_PATH: Final = "/squid/tables/"
TABLE_KEY_PATH: Final = TABLES_PATH + "{table}/{key}/"


def worker_tables_url(host: str, port: int) -> str:
    """The tables page of the worker whose web server listens on host:port."""
    return f"http://{host}:{port}{TABLES_PATH}"
