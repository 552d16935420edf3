"""The streams subcommands parse as documented."""

from __future__ import annotations

from squidshell.cli import build_parser
from streams.cli import run_bench, run_replay, run_worker


def test_worker_replay_and_bench_streams_are_registered() -> None:
    parser = build_parser()
    worker = parser.parse_args(["worker", "--web-port", "6070", "-l", "warn"])
    assert (worker.func, worker.web_port, worker.loglevel) == (run_worker, 6070, "warn")
    assert parser.parse_args(["replay", "--no-progress"]).func is run_replay
    bench = parser.parse_args(["bench", "streams", "--events", "1000"])
    assert (bench.func, bench.events, bench.naive_sample) == (run_bench, 1000, 5000)
