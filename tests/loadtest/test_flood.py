"""The flood command line and the reading of Locust's CSV stats."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loadtest.flood import FloodOptions, locust_command, read_stats, read_totals


def _options(**changes: object) -> FloodOptions:
    base: dict[str, object] = {
        "users": 7,
        "spawn_rate": 3.0,
        "run_time": "61s",
        "kafka_weight": 30,
        "rabbitmq_weight": 70,
        "csv_prefix": Path("out/flood"),
        "host": "http://127.0.0.1:8080",
    }
    base.update(changes)
    return FloodOptions(**base)  # type: ignore[arg-type]


def _value(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_locust_runs_headless_with_the_requested_load_and_split() -> None:
    command = locust_command(_options())
    assert "--headless" in command
    assert [_value(command, f) for f in ("--users", "--spawn-rate", "--run-time")] == [
        "7",
        "3.0",
        "61s",
    ]
    assert (_value(command, "--kafka-weight"), _value(command, "--rabbitmq-weight")) == ("30", "70")
    assert _value(command, "--csv") == "out/flood"
    assert command[-1] == "IngressUser"


def test_the_grpc_user_is_chosen_by_name() -> None:
    command = locust_command(_options(user="grpc", grpc_batch=250))
    assert command[-1] == "GatewayUser"
    assert _value(command, "--grpc-batch") == "250"


def _entry(name: str, requests: int, failures: int, times: dict[str, int]) -> dict[str, object]:
    return {
        "name": name,
        "num_requests": requests,
        "num_failures": failures,
        "response_times": times,
        "start_time": 100.0,
        "last_request_timestamp": 110.0,
    }


def test_final_totals_add_up_every_request_name(tmp_path: Path) -> None:
    entries = [_entry("a", 10, 1, {"5": 9, "80": 1}), _entry("b", 30, 0, {"6": 30})]
    (tmp_path / "f_final.json").write_text(json.dumps(entries))
    stats = read_stats(tmp_path / "f")
    assert (stats["a"].requests, stats["a"].failures, stats["a"].p99_ms) == (10, 1, 80.0)
    total = read_totals(tmp_path / "f")
    assert (total.requests, total.failures, total.requests_per_s) == (40, 1, 4.0)
    assert (total.median_ms, total.p99_ms) == (6.0, 80.0)


def test_a_flood_without_requests_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f_final.json").write_text("[]")
    with pytest.raises(ValueError, match="no requests"):
        read_totals(tmp_path / "f")
