"""`up`, `down` and `status`: idempotent, honest about failures, careful about what they stop."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from squidshell.cli import main
from squidstream.commands import console_argv
from squidstream.settings import Settings, load_settings
from stack import manager, process
from stack.errors import StackError
from stack.paths import StackPaths
from stack.ports import port_free
from stack.servers import Redis
from stack.starter import start_all
from tests.helpers import free_port
from tests.stack.bystander import recorded_bystander


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Settings]:
    """Settings for a Redis of this test only: own data_dir and port; stopped afterwards."""
    settings = Settings(data_dir=tmp_path / "stack", redis_port=free_port())
    yield settings
    manager.down(settings, ["redis"], report=lambda _: None)


def _records(settings: Settings) -> dict[str, process.PidRecord | None]:
    paths = StackPaths(settings.data_dir)
    return {name: process.read_record(paths.pid(name)) for name in manager.server_names()}


@pytest.mark.stack
def test_up_on_a_running_stack_leaves_every_server_alone(
    stack: Settings, stack_is_external: bool
) -> None:
    if stack_is_external:
        pytest.skip("the servers are managed outside this test run")
    before = _records(stack)
    manager.up(stack, report=lambda _: None)
    assert _records(stack) == before


@pytest.mark.stack
def test_status_reports_every_server_healthy(stack: Settings) -> None:
    rows = manager.status(stack)
    assert [row.name for row in rows] == manager.server_names(stack)
    assert [row.name for row in rows if not row.healthy] == []


def test_up_names_redis_and_the_taken_port_without_starting_anything(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "SQUID_DATA_DIR": str(tmp_path / "stack"), "SQUID_REDIS_PORT": str(port)}
    with socket.create_server(("127.0.0.1", port)):
        started = time.monotonic()
        done = subprocess.run(
            console_argv("stack", "up", "--only", "redis"),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 1
    assert f"redis: port {port} is already taken by pid {os.getpid()}" in done.stderr
    assert time.monotonic() - started < 60
    assert not (tmp_path / "stack" / "run" / "redis.pid").exists()


def test_up_starts_a_healthy_redis_and_down_stops_it(private_redis: Settings) -> None:
    manager.up(private_redis, ["redis"], report=lambda _: None)
    record = _records(private_redis)["redis"]
    assert record is not None
    assert process.is_ours(record)
    [row] = manager.status(private_redis, ["redis"])
    assert (row.healthy, row.pid) == (True, record.pid)

    manager.down(private_redis, ["redis"], report=lambda _: None)
    assert not process.is_ours(record)
    assert port_free("127.0.0.1", private_redis.redis_port)
    assert _records(private_redis)["redis"] is None


def test_down_leaves_alone_a_process_whose_pid_file_does_not_match(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "stack", sql_server="mariadb")
    # Right pid and start time, but not the command `up` would have started for mariadb.
    with recorded_bystander(settings.data_dir, "mariadb", "--datadir=") as bystander:
        manager.down(settings, ["mariadb"], report=lambda _: None)
        assert bystander.poll() is None
        assert _records(settings)["mariadb"] is None


class _BrokenRedis(Redis):
    def argv(self) -> list[str]:
        return [*super().argv(), "--no-such-directive", "1"]


def test_a_server_that_exits_at_start_is_reported_with_its_log(private_redis: Settings) -> None:
    server = _BrokenRedis(private_redis, StackPaths(private_redis.data_dir))
    StackPaths(private_redis.data_dir).create()
    [failure] = asyncio.run(start_all([server], report=lambda _: None))
    assert failure.server == "redis"
    assert "exited with code 1 before it answered" in failure.reason
    assert "no-such-directive" in failure.reason  # redis's own complaint, from the log tail


def test_unknown_server_names_are_refused() -> None:
    with pytest.raises(StackError, match="unknown server"):
        manager.make_servers(Settings(), ["zookeeper"])


def test_a_second_up_waits_for_the_first_to_release_the_lock(private_redis: Settings) -> None:
    paths = StackPaths(private_redis.data_dir)
    paths.create()
    messages: list[str] = []
    second = threading.Thread(
        target=manager.up, args=(private_redis, ["redis"]), kwargs={"report": messages.append}
    )
    with manager.stack_lock(paths, report=lambda _: None):
        second.start()
        second.join(timeout=1.0)
        assert second.is_alive()
        assert not paths.pid("redis").exists()
    second.join(timeout=60)
    assert not second.is_alive()
    assert "waiting" in messages[0]
    assert process.read_record(paths.pid("redis")) is not None


def test_status_of_a_stopped_stack_exits_non_zero_and_says_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SQUID_DATA_DIR", str(tmp_path / "stack"))
    for name in ("REDIS", "SQL", "MONGO", "RABBITMQ", "KAFKA"):
        monkeypatch.setenv(f"SQUID_{name}_PORT", str(free_port()))
    assert main(["stack", "status"]) == 1
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split()[0] for row in rows] == manager.server_names(load_settings())
    assert all(row.split()[3:] == ["no", "stopped"] for row in rows)
