"""Measure Redis AOF `appendfsync always` against `everysec` on our batched-script workload.

`python -m stack.redis_bench` starts two throw-away redis-servers at once, one per setting (AOF
on, under a temporary folder, on a free loopback port), lets them take turns in short blocks of
calls (so a change of load on the shared machine hits both alike), and prints events/s. The
workload is ours: one Lua script call per 1,000 events, which aggregates counts, trims a "last
games" list and records the applied offset, either awaited one call at a time (a worker lane)
or pipelined several calls deep.
The figures and the choice they led to are in stack/servers/redis.py.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
from redis.commands.core import Script

from stack.install import require_binary

SETTINGS = ("always", "everysec")
EVENTS_PER_CALL = 1_000
# KEYS: none. ARGV: prefix, partition, offset, then 4 values per event (id, winner, game, json).
BATCH_SCRIPT = """
local prefix, wins, games, last = ARGV[1], {}, {}, {}
for i = 4, #ARGV, 4 do
  wins[ARGV[i + 1]] = (wins[ARGV[i + 1]] or 0) + 1
  games[ARGV[i + 2]] = (games[ARGV[i + 2]] or 0) + 1
  last[#last + 1] = ARGV[i + 3]
end
for member, n in pairs(wins) do redis.call('ZINCRBY', prefix .. ':wins', n, member) end
for field, n in pairs(games) do redis.call('HINCRBY', prefix .. ':games', field, n) end
redis.call('LPUSH', prefix .. ':last', unpack(last, math.max(1, #last - 9)))
redis.call('LTRIM', prefix .. ':last', 0, 9)
redis.call('HSET', prefix .. ':applied', ARGV[2], ARGV[3])
return #last
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def aof_redis(fsync: str) -> Iterator[redis.Redis]:
    """A private redis-server with AOF on and the given appendfsync, stopped on exit."""
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="squid-redis-bench-") as folder:
        argv = [
            require_binary("redis-server", "redis-server"),
            "--bind", "127.0.0.1", "--port", str(port), "--dir", folder, "--save", "",
            "--appendonly", "yes", "--appendfsync", fsync, "--logfile", str(Path(folder) / "log"),
        ]  # fmt: skip
        server = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        client = redis.Redis(port=port, retry_on_timeout=False)
        try:
            _wait_for_ping(client, server)
            yield client
        finally:
            client.close()
            server.terminate()
            server.wait(timeout=30)


def _wait_for_ping(client: redis.Redis, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return
        except redis.ConnectionError:
            if server.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def batch_args(batch: int) -> list[str | int]:
    """ARGV of one script call: 1,000 distinct events, winners spread over 100 players."""
    args: list[str | int] = ["bench", batch % 4, batch]
    for n in range(EVENTS_PER_CALL):
        event = batch * EVENTS_PER_CALL + n
        args += (f"ev-{event}", event % 100, event % 5 + 1, f'{{"event_id":"ev-{event}"}}')
    return args


def run_block(
    script: Script, client: redis.Redis, batches: list[list[str | int]], depth: int
) -> float:
    """Events/s for these script calls sent `depth` at a time (1 = await each call)."""
    started = time.perf_counter()
    for first in range(0, len(batches), depth):
        pipe = client.pipeline(transaction=False)
        for args in batches[first : first + depth]:
            script(args=args, client=pipe)
        pipe.execute()
    return len(batches) * EVENTS_PER_CALL / (time.perf_counter() - started)


def measure(blocks: int, calls: int, depth: int) -> dict[str, list[float]]:
    """Rates per appendfsync setting: both servers run at once and take turns block by block,
    so a load change on the shared machine hits both alike."""
    rates: dict[str, list[float]] = {fsync: [] for fsync in SETTINGS}
    prepared = [batch_args(batch) for batch in range(calls)]
    with aof_redis("always") as always, aof_redis("everysec") as everysec:
        clients = {"always": always, "everysec": everysec}
        scripts = {fsync: client.register_script(BATCH_SCRIPT) for fsync, client in clients.items()}
        for fsync, client in clients.items():
            scripts[fsync](args=prepared[0], client=client)  # load the script, warm up
        for block in range(blocks):
            batches = prepared[block * calls // blocks : (block + 1) * calls // blocks]
            order = SETTINGS if block % 2 == 0 else SETTINGS[::-1]
            for fsync in order:
                rates[fsync].append(run_block(scripts[fsync], clients[fsync], batches, depth))
    return rates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=30, help="turns each server takes")
    parser.add_argument("--calls", type=int, default=600, help="script calls per server")
    parser.add_argument("--depths", type=int, nargs="+", default=[1, 8])
    args = parser.parse_args()
    print("appendfsync  depth  events/s: median  p25  p75")
    for depth in args.depths:
        rates = measure(args.blocks, args.calls, depth)
        for fsync in SETTINGS:
            q = statistics.quantiles(rates[fsync], n=4)
            print(f"{fsync:<11}  {depth:>5}  {q[1]:>16,.0f}  {q[0]:,.0f}  {q[2]:,.0f}")
        ratios = [a / b for a, b in zip(rates["always"], rates["everysec"], strict=True)]
        print(f"always / everysec at depth {depth}: median of paired blocks", end=" ")
        print(f"{statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
