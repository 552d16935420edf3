"""Detached processes: pid records tell our process from a stranger, stop escalates to SIGKILL."""

from __future__ import annotations

import os
import time
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from stack import process


@given(
    pid=st.integers(min_value=1, max_value=2**22),
    ticks=st.integers(min_value=0, max_value=2**63),
    marker=st.text(),
)
def test_pid_record_survives_a_json_round_trip(pid: int, ticks: int, marker: str) -> None:
    record = process.PidRecord(pid=pid, start_ticks=ticks, marker=marker)
    assert process.PidRecord.from_json(record.to_json()) == record


def test_an_unreadable_pid_file_reads_as_no_record(tmp_path: Path) -> None:
    garbage = tmp_path / "redis.pid"
    garbage.write_text("12345\n", encoding="ascii")
    assert process.read_record(garbage) is None
    assert process.read_record(tmp_path / "missing.pid") is None


def test_a_record_matches_only_the_same_process_started_at_the_same_time() -> None:
    me = process.record_for(os.getpid(), "python")
    assert process.is_ours(me)
    assert not process.is_ours(process.PidRecord(me.pid, me.start_ticks + 1, me.marker))
    assert not process.is_ours(process.PidRecord(me.pid, me.start_ticks, "redis-server"))


def _wait_for_exit(pid: int) -> int | None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        code = process.reap(pid)
        if code is not None:
            return code
        time.sleep(0.05)
    return None


def test_spawn_writes_output_to_the_log_and_reports_the_exit_code(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "demo.log"
    pid = process.spawn(["/bin/sh", "-c", "echo hello from demo; exit 3"], log, dict(os.environ))
    assert _wait_for_exit(pid) == 3
    assert "hello from demo" in process.tail(log)


def test_spawn_puts_the_server_in_a_session_of_its_own(tmp_path: Path) -> None:
    pid = process.spawn(["/bin/sleep", "30"], tmp_path / "sleep.log", dict(os.environ))
    try:
        assert os.getsid(pid) == pid
        assert os.getsid(pid) != os.getsid(0)
    finally:
        process.terminate(process.record_for(pid, "sleep"), timeout_s=5)


def test_terminate_stops_a_process_that_honours_sigterm(tmp_path: Path) -> None:
    pid = process.spawn(["/bin/sleep", "30"], tmp_path / "sleep.log", dict(os.environ))
    record = process.record_for(pid, "sleep")
    assert process.terminate(record, timeout_s=5) is False
    assert not process.is_ours(record)


def test_terminate_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    argv = ["/bin/sh", "-c", "trap '' TERM; echo ready; while :; do sleep 0.1; done"]
    log = tmp_path / "stubborn.log"
    pid = process.spawn(argv, log, dict(os.environ))
    deadline = time.monotonic() + 10
    # The trap must be in place before we signal (the log's header line quotes the command).
    while "ready" not in process.tail(log).splitlines() and time.monotonic() < deadline:
        time.sleep(0.05)
    record = process.record_for(pid, "trap")
    assert process.terminate(record, timeout_s=0.5) is True
    assert not process.is_ours(record)


def test_tail_returns_only_the_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "long.log"
    log.write_text("".join(f"line {n}\n" for n in range(100)), encoding="utf-8")
    assert process.tail(log, lines=3).splitlines() == ["line 97", "line 98", "line 99"]
