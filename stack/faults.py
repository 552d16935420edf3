"""Fault controls for the fault suite: SIGKILL, SIGSTOP, SIGCONT and restart of one server.

Each acts on the real process of a server this stack started, found through its pid file and
checked (pid, start time, command line: stack.process.is_ours) before any signal is sent; a
pid file that no longer matches is refused, never signalled. Signals go to the server's whole
process group (it runs in a session of its own), so helpers such as RabbitMQ's launcher
shell die or stop with it.

    record = faults.kill(settings, "kafka-2")     # returns once every process of it is gone
    faults.restart(settings, "kafka-2")            # starts it again and waits until healthy
    with faults.paused(settings, "redis"):         # SIGSTOP now, SIGCONT on leaving
        ...
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from squidstream.settings import Settings
from stack import manager, process
from stack.errors import ServerError, StackError
from stack.paths import StackPaths
from stack.ports import port_free
from stack.servers.base import Report, Server

KILL_TIMEOUT_S = 30.0
STATE_TIMEOUT_S = 10.0
_POLL_S = 0.05


def server(settings: Settings, name: str) -> Server:
    """The one server called `name` under these settings (e.g. `kafka-2` of a cluster)."""
    servers = manager.make_servers(settings, [name])
    if len(servers) != 1:
        names = ", ".join(s.name for s in servers)
        raise StackError(f"{name} names {len(servers)} servers ({names}); name one of them")
    return servers[0]


def running(settings: Settings, name: str) -> process.PidRecord:
    """The pid record of the live process we started for `name`; a ServerError otherwise."""
    target = server(settings, name)
    record = process.read_record(target.pid_path)
    if record is None:
        raise ServerError(name, f"not running (no pid file at {target.pid_path})")
    if not process.is_ours(record):
        raise ServerError(name, f"not running: {process.why_not_ours(record)}")
    return record


def kill(settings: Settings, name: str, timeout_s: float = KILL_TIMEOUT_S) -> process.PidRecord:
    """SIGKILL the server's process group; return once none of it is alive and its ports are
    free again (so `restart` can bind them at once).

    The pid file is removed, so `status` says stopped and `restart` starts it again.
    """
    target = server(settings, name)
    with manager.stack_lock(StackPaths(settings.data_dir), report=lambda _: None):
        record = running(settings, name)
        process.signal_ours(record, signal.SIGKILL)
        # Reaps our own children too (a stack started by this process leaves zombies).
        _wait_until(lambda: not process.group_alive(record), timeout_s, f"{name} to die")
        # A many-threaded leader (a JVM) shows as a zombie while its other threads still
        # hold its sockets for a moment: done means its ports can be bound again.
        _wait_until(lambda: _ports_released(target), timeout_s, f"{name}'s ports to close")
        target.pid_path.unlink(missing_ok=True)
    return record


def pause(settings: Settings, name: str) -> process.PidRecord:
    """SIGSTOP the server's process group; return once every process of it is stopped."""
    record = running(settings, name)
    process.signal_ours(record, signal.SIGSTOP)
    _wait_until(lambda: _all_in_state(record, stopped=True), STATE_TIMEOUT_S, f"{name} to stop")
    return record


def resume(settings: Settings, name: str) -> process.PidRecord:
    """SIGCONT the server's process group; return once none of it is stopped any more."""
    record = running(settings, name)
    process.signal_ours(record, signal.SIGCONT)
    _wait_until(lambda: _all_in_state(record, stopped=False), STATE_TIMEOUT_S, f"{name} to run")
    return record


@contextmanager
def paused(settings: Settings, name: str) -> Iterator[process.PidRecord]:
    """The server stopped (SIGSTOP) for the body of the `with`, resumed even if it raises."""
    record = pause(settings, name)
    try:
        yield record
    finally:
        resume(settings, name)


def restart(settings: Settings, name: str, report: Report = manager.print_report) -> None:
    """Start the server again (after `kill`) and wait until it answers; a live one is left as
    it is, like `up` (resume a paused one first)."""
    target = server(settings, name)
    manager.up(settings, [target.name], report=report)


def _ports_released(target: Server) -> bool:
    return all(port_free(target.bind_host, port) for port in target.ports)


def _all_in_state(record: process.PidRecord, *, stopped: bool) -> bool:
    states = process.group_members(record.pid).values()
    return bool(states) and all((state == "T") is stopped for state in states)


def _wait_until(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise StackError(f"timed out after {timeout_s:.0f}s waiting for {what}")
        time.sleep(_POLL_S)
