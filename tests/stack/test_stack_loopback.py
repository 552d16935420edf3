"""RabbitMQ listens on loopback only: AMQP, the Erlang distribution port and epmd."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from squidstream.settings import Settings
from stack import faults, process
from stack.paths import StackPaths
from stack.servers.rabbitmq import RabbitMQ
from tests.stack.private import private_stack

EPMD_PORT = 4369

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rabbitmq() -> Iterator[Settings]:
    with private_stack(["rabbitmq"]) as settings:
        yield settings


def _listeners() -> list[tuple[int | None, str, int]]:
    """(pid, address, port) of every listening TCP socket on the machine."""
    found = []
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and isinstance(conn.laddr, tuple) and conn.laddr:
            address, port = conn.laddr[0], conn.laddr[1]
            found.append((conn.pid, str(address), int(port)))
    return found


def _listening(pids: set[int]) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket these processes listen on."""
    return {(address, port) for pid, address, port in _listeners() if pid in pids}


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    mapped = ip.ipv4_mapped if isinstance(ip, ipaddress.IPv6Address) else None
    return (mapped or ip).is_loopback


def test_the_rabbitmq_node_listens_on_loopback_only(rabbitmq: Settings) -> None:
    record = faults.running(rabbitmq, "rabbitmq")
    sockets = _listening(set(process.group_members(record.pid)))
    ports = {port for _, port in sockets}
    # Both listeners are there, so the check below looked at the real ones.
    assert {rabbitmq.rabbitmq_port, rabbitmq.rabbitmq_dist_port} <= ports
    assert [s for s in sockets if not _is_loopback(s[0])] == []


def test_epmd_listens_on_loopback_only(rabbitmq: Settings) -> None:
    # epmd daemonises into a session of its own (and may be shared by every node here).
    epmd = {pid for pid, _, port in _listeners() if port == EPMD_PORT and pid is not None}
    assert epmd, "no epmd listens although a RabbitMQ node runs"
    sockets = _listening(epmd)
    assert [s for s in sockets if not _is_loopback(s[0])] == []


def test_the_node_is_told_to_bind_its_distribution_port_to_loopback(tmp_path: Path) -> None:
    env = RabbitMQ(Settings(data_dir=tmp_path), StackPaths(tmp_path)).env()
    assert "inet_dist_use_interface {127,0,0,1}" in env["RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"]
    assert env["ERL_EPMD_ADDRESS"] == "127.0.0.1"
