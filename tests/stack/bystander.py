"""Test-only: a process that is not ours, planted in the stack's pid file for one server."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from stack import process
from stack.paths import StackPaths


@contextmanager
def recorded_bystander(
    data_dir: Path, server: str, marker: str
) -> Iterator[subprocess.Popen[bytes]]:
    """A live `sleep` whose pid and start time the server's pid file holds, with a `marker`
    that is not the command `up` starts for it; killed afterwards."""
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        ticks = process.start_ticks(bystander.pid)
        assert ticks is not None
        fake = process.PidRecord(pid=bystander.pid, start_ticks=ticks, marker=marker)
        process.write_record(StackPaths(data_dir).pid(server), fake)
        yield bystander
    finally:
        bystander.kill()
        bystander.wait()
