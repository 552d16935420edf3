"""Start servers that are not running and wait, all at once, until each answers."""

from __future__ import annotations

import asyncio
import time

from stack import process
from stack.errors import ServerError, StackError
from stack.ports import port_free, port_owner
from stack.servers.base import Report, Server

CHECK_TIMEOUT_S = 5.0
POLL_INTERVAL_S = 0.5


def running_record(server: Server) -> process.PidRecord | None:
    """The pid record of our live process for this server, or None."""
    record = process.read_record(server.pid_path)
    return record if record is not None and process.is_ours(record) else None


async def probe(server: Server, timeout_s: float = CHECK_TIMEOUT_S) -> str | None:
    """None if one real protocol call succeeds within timeout_s, else the reason it failed."""
    try:
        await asyncio.wait_for(server.check(), timeout_s)
    except TimeoutError:
        return f"no answer within {timeout_s:.0f}s"
    except Exception as exc:  # any driver error means "not healthy"; we report its text
        return f"{type(exc).__name__}: {exc}"
    return None


def port_conflict(server: Server) -> ServerError | None:
    """An error naming the first of the server's ports that something else already holds."""
    for port in server.ports:
        if not port_free(server.bind_host, port):
            owner = port_owner(port)
            reason = f"port {port} is already taken by {owner}; stop it or move us with "
            reason += server.port_setting if port == server.port else "the matching SQUID_ setting"
            return ServerError(server.name, reason)
    return None


async def start_all(servers: list[Server], report: Report) -> list[ServerError]:
    """Launch what is not running, then wait for every server; return one error per failure."""
    failures: list[ServerError] = []
    waits = []
    for server in servers:
        try:
            record, spawned_at = _launch(server, report)
        except ServerError as exc:
            failures.append(exc)
            continue
        except (StackError, OSError) as exc:  # e.g. a failed exec or chown: name the server
            failures.append(ServerError(server.name, str(exc)))
            continue
        waits.append(_await_ready(server, record, spawned_at, report))
    for result in await asyncio.gather(*waits):
        if result is not None:
            failures.append(result)
    return failures


def _launch(server: Server, report: Report) -> tuple[process.PidRecord, float | None]:
    """Our running process's record, or start one; the monotonic start time if started now."""
    record = running_record(server)
    if record is not None:
        return record, None
    server.pid_path.unlink(missing_ok=True)
    conflict = port_conflict(server)
    if conflict is not None:
        raise conflict
    server.prepare(report)
    pid = process.spawn(server.argv(), server.log_path, server.env(), server.cwd())
    record = process.record_for(pid, server.marker)
    process.write_record(server.pid_path, record)
    report(f"{server.name}: started (pid {pid}, log {server.log_path})")
    return record, time.monotonic()


async def _await_ready(
    server: Server, record: process.PidRecord, spawned_at: float | None, report: Report
) -> ServerError | None:
    deadline = time.monotonic() + server.start_timeout_s
    while True:
        ended = await _ended(record, spawned=spawned_at is not None)
        if ended is not None:
            return _exited(server, ended)
        problem = await probe(server)
        if problem is None:
            break
        if time.monotonic() >= deadline:
            reason = f"not healthy after {server.start_timeout_s:.0f}s ({problem})"
            return ServerError(server.name, _with_log(server, reason))
        await asyncio.sleep(POLL_INTERVAL_S)
    try:
        await server.on_ready()
    except Exception as exc:  # driver errors of the ready hook become our error, with context
        return ServerError(server.name, f"healthy, but setting it up failed: {exc}")
    how = "(already running)"
    if spawned_at is not None:
        how = f"{time.monotonic() - spawned_at:.1f}s after its start"
    report(f"{server.name}: healthy on port {server.port} {how}")
    return None


async def _ended(record: process.PidRecord, spawned: bool) -> str | None:
    """None while the server runs, else how it ended."""
    if spawned:
        # Our own child: waitpid is the authority on whether it ended, and with which code.
        code = process.reap(record.pid)
        if code is not None:
            return f"exited with code {code}"
        return None if process.start_ticks(record.pid) is not None else "exited"
    if process.is_ours(record):
        return None
    await asyncio.sleep(POLL_INTERVAL_S)  # one more look before declaring a server gone
    return None if process.is_ours(record) else f"stopped ({process.why_not_ours(record)})"


def _exited(server: Server, how: str) -> ServerError:
    server.pid_path.unlink(missing_ok=True)
    return ServerError(server.name, _with_log(server, f"{how} before it answered"))


def _with_log(server: Server, reason: str) -> str:
    return f"{reason}; last lines of {server.log_path}:\n{process.tail(server.log_path)}"
