"""The launcher against real children: one that serves, one that never does, one that ignores
SIGTERM, one that exits at once, one that leaves a helper behind."""

from __future__ import annotations

import os
import signal
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from squidstream.isolation import isolated
from squidstream.launcher import (
    Launched,
    LaunchError,
    free_port,
    group_members,
    http_answers,
    http_ok,
    log_says,
    port_open,
    stop_all,
    wait_ready,
)
from squidstream.settings import Settings


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def _serving(port: int) -> list[str]:
    """An HTTP server on port that answers /healthz 200 and anything else 404."""
    return _python(
        f"""
        import http.server
        class Health(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200 if self.path == "/healthz" else 404)
                self.end_headers()
        print("serving", flush=True)
        http.server.HTTPServer(("127.0.0.1", {port}), Health).serve_forever()
        """
    )


NEVER_SERVES = _python("import time\nprint('starting', flush=True)\ntime.sleep(600)")
IGNORES_SIGTERM = _python(
    """
    import signal, time
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    print("ignoring SIGTERM", flush=True)
    time.sleep(600)
    """
)
EXITS_AT_ONCE = _python("import sys\nprint('bad config: no broker', flush=True)\nsys.exit(3)")
# Starts a grandchild (in the same group) that ignores SIGTERM, then exits on SIGTERM itself.
LEAVES_A_HELPER = _python(
    """
    import subprocess, sys, time
    code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
    helper = subprocess.Popen([sys.executable, "-c", code])
    print("helper", helper.pid, flush=True)
    time.sleep(600)
    """
)


@pytest.fixture
def started() -> Iterator[list[Launched]]:
    """Every child a test launches is killed, whatever the test did."""
    children: list[Launched] = []
    yield children
    stop_all(children, grace_s=0.0, signum=signal.SIGKILL)


def _launch(started: list[Launched], tmp_path: Path, argv: list[str], name: str) -> Launched:
    child = Launched(argv, name=name, log=tmp_path / f"{name}.log")
    started.append(child)
    return child


def test_a_child_that_serves_is_ready_by_port_health_page_and_log_line(
    started: list[Launched], tmp_path: Path
) -> None:
    port = free_port()
    child = _launch(started, tmp_path, _serving(port), "server")
    wait_ready(child, port_open("127.0.0.1", port), timeout_s=30)
    wait_ready(child, http_ok(f"http://127.0.0.1:{port}/healthz"), timeout_s=5)
    wait_ready(child, http_answers(f"http://127.0.0.1:{port}/missing"), timeout_s=5)
    wait_ready(child, log_says(tmp_path / "server.log", "serving"), timeout_s=5)
    assert not http_ok(f"http://127.0.0.1:{port}/missing")()
    assert os.getpgid(child.pid) == child.pid  # a group of its own
    assert child.stop(grace_s=10) == -signal.SIGTERM


def test_a_child_that_never_serves_times_out_with_its_last_log_lines(
    started: list[Launched], tmp_path: Path
) -> None:
    child = _launch(started, tmp_path, NEVER_SERVES, "silent")
    began = time.monotonic()
    with pytest.raises(LaunchError, match=r"silent not ready after 1s") as caught:
        wait_ready(child, port_open("127.0.0.1", free_port()), timeout_s=1, poll_s=0.05)
    assert time.monotonic() - began < 10
    assert "starting" in str(caught.value)
    assert str(tmp_path / "silent.log") in str(caught.value)
    assert child.poll() is None  # waiting gave up; stopping is the caller's call


def test_a_child_that_exits_at_once_fails_the_wait_with_its_code_and_log(
    started: list[Launched], tmp_path: Path
) -> None:
    child = _launch(started, tmp_path, EXITS_AT_ONCE, "broken")
    with pytest.raises(LaunchError, match="broken exited with code 3") as caught:
        wait_ready(child, port_open("127.0.0.1", free_port()), timeout_s=60)
    assert "bad config: no broker" in str(caught.value)
    with pytest.raises(LaunchError, match="code 3"):
        child.check_alive()
    assert child.stop() == 3  # stopping what has ended is harmless


def test_a_child_that_ignores_sigterm_is_killed_after_the_grace_period(
    started: list[Launched], tmp_path: Path
) -> None:
    child = _launch(started, tmp_path, IGNORES_SIGTERM, "stubborn")
    wait_ready(child, log_says(tmp_path / "stubborn.log", "ignoring SIGTERM"), timeout_s=30)
    began = time.monotonic()
    assert child.stop(grace_s=1.0) == -signal.SIGKILL
    assert 1.0 <= time.monotonic() - began < 10


def test_stopping_a_child_stops_the_helpers_of_its_group(
    started: list[Launched], tmp_path: Path
) -> None:
    child = _launch(started, tmp_path, LEAVES_A_HELPER, "parent")
    wait_ready(child, log_says(tmp_path / "parent.log", "helper"), timeout_s=30)
    helper = int((tmp_path / "parent.log").read_text().split()[1])
    assert set(group_members(child.pid)) == {child.pid, helper}
    child.stop(grace_s=1.0)
    assert group_members(child.pid) == {}


def test_stop_all_signals_every_child_at_once_and_shares_one_grace_period(
    started: list[Launched], tmp_path: Path
) -> None:
    children = [_launch(started, tmp_path, IGNORES_SIGTERM, f"stubborn-{i}") for i in range(3)]
    for child in children:
        wait_ready(child, log_says(child.log or tmp_path, "ignoring"), timeout_s=30)
    began = time.monotonic()
    stop_all(children, grace_s=1.0)
    assert time.monotonic() - began < 3.0  # not three grace periods one after the other
    assert [child.returncode for child in children] == [-signal.SIGKILL] * 3


def test_a_log_is_truncated_on_launch_or_appended_to(
    started: list[Launched], tmp_path: Path
) -> None:
    log = tmp_path / "again.log"
    log.write_text("old run\n")
    first = Launched(EXITS_AT_ONCE, name="again", log=log, append=True)
    started.append(first)
    first.wait(30)
    assert log.read_text().splitlines() == ["old run", "bad config: no broker"]
    second = Launched(EXITS_AT_ONCE, name="again", log=log)
    started.append(second)
    second.wait(30)
    assert log.read_text().splitlines() == ["bad config: no broker"]


def test_the_child_gets_our_environment_with_the_overrides_on_top(
    started: list[Launched], tmp_path: Path
) -> None:
    code = "import os; print(os.environ['SQUID_X'], os.environ['PATH'] != '', os.getcwd())"
    child = Launched(
        _python(code), name="env", env={"SQUID_X": "mine"}, log=tmp_path / "env.log", cwd=tmp_path
    )
    started.append(child)
    assert child.wait(30) == 0
    assert (tmp_path / "env.log").read_text().split() == ["mine", "True", str(tmp_path)]


def test_isolated_settings_make_every_store_and_broker_name_private() -> None:
    base = Settings()
    mine = isolated(base, "run_7", 7007, events_partitions=2)
    assert (mine.events_topic, mine.dead_letter_topic) == ("run_7-events", "run_7-dlq")
    assert (mine.rabbitmq_queue, mine.rabbitmq_dead_letter_queue) == ("run_7-events", "run_7-dlq")
    assert {mine.faust_app_id, mine.redis_prefix, mine.sql_database, mine.mongo_database} == {
        "run_7"
    }
    assert (mine.faust_web_port, mine.events_partitions) == (7007, 2)
    assert isolated(base, "run_8").faust_web_port == base.faust_web_port
    with pytest.raises(ValueError, match="lowercase"):
        isolated(base, "Bad-Name")
