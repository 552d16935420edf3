"""Detached server processes: spawn, pid records, identity checks, stop.

Log tails and process-group members come from `squidstream.launcher`, which starts the
children that are ours to wait for (the servers here must outlive us).
"""

from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from squidstream.launcher import group_members as group_members  # shared with our children
from squidstream.launcher import tail as tail
from stack.errors import StackError

_LOG_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_APPEND


@dataclass(frozen=True)
class PidRecord:
    """What `up` wrote about a process: enough to tell it from a later process with its pid."""

    pid: int
    start_ticks: int
    marker: str

    def to_json(self) -> str:
        return json.dumps({"pid": self.pid, "start_ticks": self.start_ticks, "marker": self.marker})

    @classmethod
    def from_json(cls, text: str) -> PidRecord:
        raw = json.loads(text)
        return cls(
            pid=int(raw["pid"]), start_ticks=int(raw["start_ticks"]), marker=str(raw["marker"])
        )


def spawn(argv: list[str], log: Path, env: dict[str, str], cwd: Path | None = None) -> int:
    """Start argv in its own session with stdout+stderr appended to log; return its pid.

    posix_spawn instead of subprocess.Popen: the server must outlive us, and a Popen object that
    is never waited for raises ResourceWarning (an error in our test runs). Our own descriptors
    are close-on-exec by default, so the stack lock is never inherited by a server.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).isoformat(timespec="seconds")
    with log.open("a", encoding="utf-8") as handle:
        handle.write(f"\n---- squidstream stack: starting at {stamp}: {' '.join(argv)}\n")
    if cwd is not None:
        # posix_spawn has no chdir action before Python 3.13: go through a shell `cd`.
        argv = ["/bin/sh", "-c", 'cd "$0" && exec "$@"', str(cwd), *argv]
    actions = [
        (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
        (os.POSIX_SPAWN_OPEN, 1, str(log), _LOG_FLAGS, 0o644),
        (os.POSIX_SPAWN_DUP2, 1, 2),
    ]
    return os.posix_spawn(argv[0], argv, env, file_actions=actions, setsid=True)


def reap(pid: int) -> int | None:
    """Collect our child's exit status if it has ended; None while it runs or if not our child."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if done else None


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    # The command name in parentheses may contain spaces: split after its closing parenthesis.
    return text[text.rfind(")") + 2 :].split()


def start_ticks(pid: int) -> int | None:
    """The process start time in clock ticks since boot, or None if it is gone or a zombie."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode("utf-8", errors="replace").strip()


def record_for(pid: int, marker: str) -> PidRecord:
    ticks = start_ticks(pid)
    if ticks is None:
        raise StackError(f"process {pid} ended right after it started")
    return PidRecord(pid=pid, start_ticks=ticks, marker=marker)


def write_record(path: Path, record: PidRecord) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(record.to_json() + "\n", encoding="utf-8")
    tmp.replace(path)


def read_record(path: Path) -> PidRecord | None:
    """The pid file's record, or None if there is none or it is unreadable."""
    try:
        return PidRecord.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_ours(record: PidRecord) -> bool:
    """True if the recorded process still runs: same pid, same start time, expected command."""
    return start_ticks(record.pid) == record.start_ticks and record.marker in cmdline(record.pid)


def why_not_ours(record: PidRecord) -> str:
    """What differs between the record and the process now holding its pid (for messages)."""
    ticks = start_ticks(record.pid)
    if ticks is None:
        return f"pid {record.pid} is gone"
    if ticks != record.start_ticks:
        return f"pid {record.pid} now belongs to a later process"
    return f"pid {record.pid} runs `{cmdline(record.pid)[:200]}`, not `...{record.marker}...`"


def group_alive(record: PidRecord) -> bool:
    """True while any process of the recorded group (the server and its helpers) is alive."""
    return _group_alive(record.pid)


def state(pid: int) -> str | None:
    """The process state letter from /proc (R, S, T for stopped, Z...), or None if gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def signal_ours(record: PidRecord, signum: int) -> None:
    """Send signum to the recorded process group, after checking it is still our process.

    The check (pid, start time and command line) keeps a stale pid file from ever making us
    signal a stranger that reused the pid.
    """
    if not is_ours(record):
        raise StackError(f"refusing to signal: {why_not_ours(record)}")
    _signal(record, signum)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Zombies still count as group members until reaped, so look at each member's state.
    reap(pgid)
    return bool(group_members(pgid))


def _signal(record: PidRecord, signum: int) -> None:
    try:
        if os.getpgid(record.pid) == record.pid:
            os.killpg(record.pid, signum)  # the server and any helpers it started
        else:
            os.kill(record.pid, signum)
    except ProcessLookupError:
        pass


def terminate(record: PidRecord, timeout_s: float) -> bool:
    """SIGTERM the recorded process group, SIGKILL after timeout_s; True if it had to be killed."""
    _signal(record, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _group_alive(record.pid):
            return False
        time.sleep(0.2)
    _signal(record, signal.SIGKILL)
    while _group_alive(record.pid) and time.monotonic() < deadline + 10:
        time.sleep(0.1)
    return True
