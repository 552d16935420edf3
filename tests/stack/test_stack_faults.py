"""Fault controls kill, stop and restart the real server processes of a private stack."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
from collections.abc import Iterator

import pytest
import redis

from squidstream.commands import console_argv
from squidstream.settings import Settings
from stack import faults, manager, process
from stack.errors import ServerError, StackError
from stack.paths import StackPaths
from stack.ports import port_free
from stack.starter import probe
from tests.stack.private import private_stack

SERVERS = ["redis", "mariadb", "ferretdb", "rabbitmq", "kafka"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack_b() -> Iterator[Settings]:
    with private_stack(SERVERS) as settings:
        yield settings


def _healthy(settings: Settings, name: str, timeout_s: float = 2.0) -> bool:
    return asyncio.run(probe(faults.server(settings, name), timeout_s)) is None


@pytest.mark.parametrize("name", SERVERS)
def test_kill_ends_every_process_of_the_server_and_restart_brings_it_back(
    stack_b: Settings, name: str
) -> None:
    server = faults.server(stack_b, name)
    record = faults.kill(stack_b, name)
    assert process.group_members(record.pid) == {}
    assert not process.is_ours(record)
    assert port_free("127.0.0.1", server.port)
    [row] = manager.status(stack_b, [name])
    assert (row.healthy, row.note) == (False, "stopped")

    faults.restart(stack_b, name, report=lambda _: None)
    again = faults.running(stack_b, name)
    assert again.pid != record.pid
    assert _healthy(stack_b, name)


@pytest.mark.parametrize("name", ["redis", "mariadb", "kafka"])
def test_a_paused_server_keeps_its_process_but_answers_only_after_resume(
    stack_b: Settings, name: str
) -> None:
    with faults.paused(stack_b, name) as record:
        assert set(process.group_members(record.pid).values()) == {"T"}
        assert not _healthy(stack_b, name, timeout_s=1.0)
    assert "T" not in process.group_members(record.pid).values()
    assert _healthy(stack_b, name, timeout_s=10.0)
    assert faults.running(stack_b, name) == record


def test_an_acknowledged_redis_write_survives_a_sigkill(stack_b: Settings) -> None:
    client = redis.Redis(port=stack_b.redis_port)
    try:
        client.set("acknowledged", "before the kill")
        faults.kill(stack_b, "redis")
        faults.restart(stack_b, "redis", report=lambda _: None)
        assert client.get("acknowledged") == b"before the kill"
        assert client.config_get("appendfsync") == {"appendfsync": "always"}
    finally:
        client.close()


def test_faults_refuse_a_pid_file_that_is_not_our_process(stack_b: Settings) -> None:
    bystander = subprocess.Popen(["sleep", "60"])
    paths = StackPaths(stack_b.data_dir)
    saved = paths.pid("ferretdb").read_text(encoding="utf-8")
    try:
        ticks = process.start_ticks(bystander.pid)
        assert ticks is not None
        # The pid and start time of a live stranger, but not FerretDB's command line.
        fake = process.PidRecord(bystander.pid, ticks, str(paths.bin / "ferretdb"))
        process.write_record(paths.pid("ferretdb"), fake)
        for act in (faults.kill, faults.pause, faults.resume):
            with pytest.raises(ServerError, match="not running"):
                act(stack_b, "ferretdb")
        assert bystander.poll() is None
        assert process.state(bystander.pid) != "T"
    finally:
        paths.pid("ferretdb").write_text(saved, encoding="utf-8")
        bystander.send_signal(signal.SIGKILL)
        bystander.wait()


def test_a_name_with_several_brokers_is_refused(tmp_path: os.PathLike[str]) -> None:
    settings = Settings(data_dir=tmp_path, kafka_brokers=3)
    with pytest.raises(StackError, match="kafka-1, kafka-2, kafka-3"):
        faults.kill(settings, "kafka")


def test_the_cli_kills_and_restarts_a_server(stack_b: Settings) -> None:
    env = {**os.environ, **stack_b.as_env()}
    cli = console_argv("stack")
    before = faults.running(stack_b, "redis")
    killed = subprocess.run([*cli, "kill", "redis"], env=env, capture_output=True, text=True)
    assert killed.returncode == 0, killed.stderr
    assert f"redis: killed (pid {before.pid}" in killed.stderr
    assert not process.is_ours(before)
    again = subprocess.run([*cli, "kill", "redis"], env=env, capture_output=True, text=True)
    assert again.returncode == 1
    assert "redis: not running" in again.stderr
    restarted = subprocess.run([*cli, "restart", "redis"], env=env, capture_output=True)
    assert restarted.returncode == 0
    assert _healthy(stack_b, "redis")
