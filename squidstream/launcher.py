"""Child processes: start one in its own process group with a log, wait until it serves, stop it.

Every long-running child of ours (the main job's pipeline, the benchmarks' gateways and
workers, the test harnesses' processes) is a `Launched`: a `subprocess.Popen` that also
knows its name and log, so a failure can quote the log's last lines, and that stops its
whole process group (a child's own helpers included): SIGTERM (or the signal given), a grace
period, then SIGKILL. `stack.process` starts the servers differently (they must outlive us)
but shares the log tail and the group members from here.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

import psutil

# A readiness check: True once the child serves. It must not raise (a refusal is False).
Probe = Callable[[], bool]

POLL_S = 0.2
# How long SIGKILLed processes may take to be gone (a process in uninterruptible sleep).
KILLED_WITHIN_S = 10.0
LOG_LINES = 15


class LaunchError(RuntimeError):
    """A child exited, or did not become ready in time; the message quotes its log."""


def tail(path: Path, lines: int = LOG_LINES) -> str:
    """The last lines of a log file, for error messages."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16_384))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return "(no log yet)"
    return "\n".join(text.splitlines()[-lines:])


def free_port() -> int:
    """A loopback port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def group_members(pgid: int) -> dict[int, str]:
    """Pid -> state letter (R, S, T for stopped...) of every live, not zombie, group member."""
    members: dict[int, str] = {}
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, OSError):
            letter = _STATE_LETTERS.get(process.status(), "?")
            if letter not in ("Z", "X") and os.getpgid(process.pid) == pgid:
                members[process.pid] = letter
    return members


_STATE_LETTERS = {
    psutil.STATUS_RUNNING: "R",
    psutil.STATUS_SLEEPING: "S",
    psutil.STATUS_DISK_SLEEP: "D",
    psutil.STATUS_STOPPED: "T",
    psutil.STATUS_TRACING_STOP: "t",
    psutil.STATUS_ZOMBIE: "Z",
    psutil.STATUS_DEAD: "X",
    psutil.STATUS_IDLE: "I",
}


class Launched(subprocess.Popen[bytes]):
    """Start argv in a session (so a process group) of its own, `env` on top of ours, stdout
    and stderr to `log` (truncated, or appended to with `append`); without a log, to ours
    (nowhere if `quiet`)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        name: str,
        env: Mapping[str, str] | None = None,
        log: Path | None = None,
        cwd: Path | None = None,
        append: bool = False,
        quiet: bool = False,
    ) -> None:
        self.name = name
        self.log = log
        output: IO[bytes] | int | None = subprocess.DEVNULL if quiet else None
        if log is not None:
            log.parent.mkdir(parents=True, exist_ok=True)
            output = log.open("ab" if append else "wb")
        try:
            super().__init__(
                list(argv),
                env={**os.environ, **(env or {})},
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=output if log is None else subprocess.STDOUT,
                # Ctrl-C reaches only us, and one killpg reaches the child's own helpers.
                start_new_session=True,
            )
        finally:
            if output is not None and not isinstance(output, int):
                output.close()  # the child holds its own copy

    def failure(self, reason: str) -> LaunchError:
        """An error naming the child and the reason, with the last lines of its log."""
        if self.log is None:
            return LaunchError(f"{self.name} {reason}")
        return LaunchError(f"{self.name} {reason}; last lines of {self.log}:\n{tail(self.log)}")

    def check_alive(self) -> None:
        """LaunchError if the child has exited."""
        code = self.poll()
        if code is not None:
            raise self.failure(f"exited with code {code}")

    def signal_group(self, signum: int) -> None:
        """Send signum to the child's process group (nothing if the group is gone)."""
        if self.returncode is not None and not group_members(self.pid):
            return  # reaped, and no helper left: the pid (and group id) may be reused
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signum)

    def group_ended(self) -> bool:
        """True once the child has exited (and is reaped) and no process of its group is left."""
        return self.poll() is not None and not group_members(self.pid)

    def stop(self, grace_s: float = 15.0, signum: int = signal.SIGTERM) -> int:
        """signum to the group, SIGKILL to whatever is left after grace_s; the exit code."""
        stop_all([self], grace_s, signum)
        return self.wait()

    def kill_group(self) -> int:
        """SIGKILL the whole group at once and reap the child; the exit code (-9)."""
        return self.stop(0.0, signal.SIGKILL)


def stop_all(
    children: Sequence[Launched], grace_s: float = 15.0, signum: int = signal.SIGTERM
) -> None:
    """Signal every child's group at once, give them grace_s together, then SIGKILL the rest."""
    for child in children:
        child.signal_group(signum)
    deadline = time.monotonic() + grace_s
    for child in children:
        if not _group_ends(child, deadline):
            child.signal_group(signal.SIGKILL)
            _group_ends(child, time.monotonic() + KILLED_WITHIN_S)
        child.wait()


def _group_ends(child: Launched, deadline: float) -> bool:
    while not child.group_ended():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)
    return True


def wait_ready(child: Launched, probe: Probe, timeout_s: float, poll_s: float = POLL_S) -> None:
    """Return once `probe` says the child serves; LaunchError if it exits or time runs out."""
    deadline = time.monotonic() + timeout_s
    while not probe():
        child.check_alive()
        if time.monotonic() > deadline:
            raise child.failure(f"not ready after {timeout_s:.0f}s")
        time.sleep(poll_s)


def port_open(host: str, port: int) -> Probe:
    """Ready once something accepts TCP connections at host:port."""

    def check() -> bool:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
            return True
        return False

    return check


# Our children listen on this machine: never ask them through an HTTP proxy from the env.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_status(url: str, timeout_s: float = 2.0) -> int | None:
    """The HTTP status `url` answers with, or None if nothing answers."""
    try:
        with _DIRECT.open(url, timeout=timeout_s) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


def http_ok(url: str) -> Probe:
    """Ready once `url` answers 200 (a health page)."""
    return lambda: http_status(url) == 200


def http_answers(url: str) -> Probe:
    """Ready once an HTTP server answers at `url`, with any status."""
    return lambda: http_status(url) is not None


def log_says(path: Path, text: str) -> Probe:
    """Ready once the log's last lines contain `text`."""
    return lambda: text in tail(path, lines=200)
