"""Loopback by default, proven: no process of the stack or of `make run` listens beyond it.

Every listening socket (TCP listeners and bound UDP sockets) of every process the stack
started (its pid files, each server's process group, and epmd, which RabbitMQ's node starts
in a session of its own), then of each service `squidstream run` starts, must be on
127.0.0.0/8 or ::1.
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from squidstream.settings import Settings
from stack import process
from stack.paths import StackPaths
from tests.helpers import free_port, isolated_settings
from tests.streams.streams_harness import drop_stores

pytestmark = [pytest.mark.stack]
SQUIDSTREAM = Path(sys.executable).with_name("squidstream")
EPMD_PORT = 4369
START_TIMEOUT_S = 90.0


@dataclass(frozen=True)
class Listener:
    """One listening socket: who holds it, and where."""

    owner: str
    pid: int
    address: str
    port: int

    def __str__(self) -> str:
        return f"{self.owner} (pid {self.pid}) on {self.address}:{self.port}"


def is_loopback(address: str) -> bool:
    """True for 127.0.0.0/8, ::1 and their IPv4-mapped forms (::ffff:127.0.0.1)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def listeners(owners: dict[int, str]) -> list[Listener]:
    """Every TCP listener and bound UDP socket of these pids."""
    found = []
    for conn in psutil.net_connections(kind="inet"):
        if conn.pid not in owners or not conn.laddr:
            continue
        listening = conn.status == psutil.CONN_LISTEN or conn.type == socket.SOCK_DGRAM
        if listening:
            found.append(Listener(owners[conn.pid], conn.pid, conn.laddr.ip, conn.laddr.port))
    return found


def wide(found: Iterable[Listener]) -> list[Listener]:
    return [listener for listener in found if not is_loopback(listener.address)]


def judge(found: list[Listener], known: Callable[[Listener], str | None]) -> None:
    """Fail on any wide socket; xfail, naming them, when the only ones are known offenders."""
    assert found, "no listening socket found: the check looked at nothing"
    offenders = wide(found)
    unknown = [str(listener) for listener in offenders if known(listener) is None]
    assert unknown == [], f"listening beyond loopback: {unknown}"
    reasons = sorted({f"{known(listener)}: {listener}" for listener in offenders})
    if reasons:
        pytest.xfail("known offenders still listen beyond loopback: " + "; ".join(reasons))


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.3.4.5", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("0.0.0.0", False),
        ("::", False),
        ("10.1.2.3", False),
        ("::ffff:192.168.1.2", False),
        ("fe80::1%eth0", False),
    ],
)
def test_is_loopback_accepts_only_127_8_and_ipv6_loopback(address: str, loopback: bool) -> None:
    assert is_loopback(address) is loopback


def test_judge_fails_on_a_wide_listener_that_is_not_a_known_offender() -> None:
    found = [Listener("views", 1, "127.0.0.1", 8000), Listener("redis", 2, "0.0.0.0", 6379)]
    with pytest.raises(AssertionError, match="redis"):
        judge(found, lambda listener: None)


def test_judge_fails_when_it_found_no_socket_at_all() -> None:
    with pytest.raises(AssertionError, match="looked at nothing"):
        judge([], lambda listener: None)


# --- the stack ----------------------------------------------------------------------------------


def stack_processes(settings: Settings) -> dict[int, str]:
    """Pid -> server name of every process in the process group of each recorded server."""
    owners: dict[int, str] = {}
    for pid_file in sorted(StackPaths(settings.data_dir).run.glob("*.pid")):
        record = process.read_record(pid_file)
        if record is None or not process.is_ours(record):
            continue  # mariadbd.pid is MariaDB's own plain pid file; mariadb.pid covers it
        for pid in process.group_members(os.getpgid(record.pid)):
            owners[pid] = pid_file.stem
    for conn in psutil.net_connections(kind="tcp"):
        port = conn.laddr.port if conn.laddr else None
        if conn.status == psutil.CONN_LISTEN and port == EPMD_PORT and conn.pid:
            owners.setdefault(conn.pid, "epmd")
    return owners


def known_stack_offender(settings: Settings) -> Callable[[Listener], str | None]:
    """RabbitMQ's distribution port, only on a node started before it was bound to loopback.

    stack/ passes `inet_dist_use_interface` since 885b0f6; a node still running from before
    (a long-lived shared stack) listens on every interface until `squidstream stack down/up`.
    A node started with the flag that still listens wide is a failure like any other.
    """

    def known(listener: Listener) -> str | None:
        if listener.owner != "rabbitmq" or listener.port != settings.rabbitmq_dist_port:
            return None
        if "inet_dist_use_interface" in process.cmdline(listener.pid):
            return None
        return "RabbitMQ's Erlang distribution port, on a node started before 885b0f6 (restart it)"

    return known


def test_every_stack_server_listens_on_loopback_only(stack: Settings) -> None:
    owners = stack_processes(stack)
    found = listeners(owners)
    servers = {listener.owner for listener in found}
    assert {"redis", "ferretdb", "rabbitmq", "kafka"} <= servers, servers
    ports = {listener.port for listener in found}
    expected = {stack.kafka_port, stack.redis_port, stack.rabbitmq_port, stack.mongo_port}
    assert expected | {stack.sql_port} <= ports
    judge(found, known_stack_offender(stack))


# --- the processes of `make run` ----------------------------------------------------------------


@dataclass(frozen=True)
class Service:
    name: str
    argv: list[str]
    port: int


def run_services(settings: Settings) -> list[Service]:
    """The services `squidstream run` starts, each on a free port."""
    kafka, rabbitmq, ingress, views = (free_port() for _ in range(4))
    return [
        Service("gateway kafka", ["gateway", "kafka", "--port", str(kafka)], kafka),
        Service("gateway rabbitmq", ["gateway", "rabbitmq", "--port", str(rabbitmq)], rabbitmq),
        Service("ingress", ["ingress", "--port", str(ingress)], ingress),
        Service(
            "worker",
            ["worker", "--web-port", str(settings.faust_web_port)],
            settings.faust_web_port,
        ),
        Service("views", ["views", "--port", str(views)], views),
    ]


def service_env(settings: Settings, services: list[Service]) -> dict[str, str]:
    ports = {service.name: service.port for service in services}
    return {
        **os.environ,
        **settings.as_env(),
        "SQUID_GATEWAY_KAFKA_ADDRESS": f"127.0.0.1:{ports['gateway kafka']}",
        "SQUID_GATEWAY_RABBITMQ_ADDRESS": f"127.0.0.1:{ports['gateway rabbitmq']}",
    }


def tree(pid: int) -> list[int]:
    try:
        parent = psutil.Process(pid)
        return [pid, *(child.pid for child in parent.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def owners_of(started: dict[str, subprocess.Popen[bytes]]) -> dict[int, str]:
    return {pid: name for name, child in started.items() for pid in tree(child.pid)}


def wait_listening(started: dict[str, subprocess.Popen[bytes]], services: list[Service]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    missing = {service.name: service.port for service in services}
    while missing and time.monotonic() < deadline:
        for name, child in started.items():
            assert child.poll() is None, f"{name} exited with {child.returncode}"
        ports = {(listener.owner, listener.port) for listener in listeners(owners_of(started))}
        missing = {name: port for name, port in missing.items() if (name, port) not in ports}
        time.sleep(0.5)
    assert not missing, f"not listening after {START_TIMEOUT_S:.0f} s: {missing}"


def stop_all(started: dict[str, subprocess.Popen[bytes]]) -> None:
    for child in started.values():
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    for child in started.values():
        try:
            child.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)


@pytest.fixture
def run_settings(stack: Settings) -> Iterator[Settings]:
    """The stack's servers with this test's own topic, queue, group, prefix and databases."""
    import asyncio

    settings = isolated_settings(stack, "loopback")
    yield settings
    asyncio.run(drop_stores(settings))


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_every_process_of_make_run_listens_on_loopback_only(
    run_settings: Settings, tmp_path: Path
) -> None:
    services = run_services(run_settings)
    env = service_env(run_settings, services)
    started: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for service in services:
            log = (tmp_path / f"{service.name.replace(' ', '-')}.log").open("wb")
            with log:
                started[service.name] = subprocess.Popen(
                    [str(SQUIDSTREAM), *service.argv],
                    env=env,
                    cwd=tmp_path,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
        wait_listening(started, services)
        found = listeners(owners_of(started))
    finally:
        stop_all(started)
    assert {listener.owner for listener in found} == {service.name for service in services}
    judge(found, lambda listener: None)
