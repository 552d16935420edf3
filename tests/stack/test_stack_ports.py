"""Port checks see listeners on loopback and name the process that holds the port."""

from __future__ import annotations

import os
import socket

from stack.ports import port_free, port_owner
from tests.helpers import free_port


def test_a_port_is_taken_while_something_listens_and_free_after() -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        assert not port_free("127.0.0.1", port)
    assert port_free("127.0.0.1", port)


def test_a_listener_on_all_interfaces_also_takes_the_loopback_port() -> None:
    port = free_port()
    with socket.create_server(("0.0.0.0", port)):
        assert not port_free("127.0.0.1", port)


def test_the_owner_of_a_port_is_named_by_pid() -> None:
    port = free_port()
    with socket.create_server(("127.0.0.1", port)):
        assert port_owner(port).startswith(f"pid {os.getpid()} (")


def test_a_free_port_has_no_known_owner() -> None:
    assert port_owner(free_port()) == "an unknown process"
