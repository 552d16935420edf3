"""A private stack for tests that kill, stop or reconfigure servers: own data_dir, own ports.

Never the shared stack: every port differs from the defaults (and from each other), and the
data folder is a fresh one under /tmp that the `rabbitmq` user can enter (pytest's tmp_path
is not). Built artefacts of the shared stack (Kafka jars, the FerretDB binary) are linked in,
read-only, so a private stack starts without Maven or Go.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from squidstream.settings import Settings
from stack import manager, process
from stack.ports import port_free
from stack.servers.kafka_config import broker_ports
from tests.helpers import free_port

SHARED = Settings().data_dir
PREFIX = "squid-stack-test-"
# The pid of the test process that owns a private stack, so a later run can reap it.
OWNER_FILE = "owner.pid"


def _kafka_ports(brokers: int) -> tuple[int, int]:
    """A kafka_port / kafka_controller_port pair whose whole layout (all nodes) is free."""
    while True:
        trial = Settings(kafka_port=free_port(), kafka_controller_port=free_port())
        nodes = range(1, brokers + 1) if brokers > 1 else (0,)
        ports = [port for node in nodes for port in broker_ports(trial, node)]
        if max(ports) <= 65535 and all(port_free("127.0.0.1", port) for port in ports):
            return trial.kafka_port, trial.kafka_controller_port


def private_settings(
    root: Path, kafka_brokers: int = 1, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Settings with every server port moved to a free one, under root; then `overrides`
    (other settings, validated with the rest: Kafka credentials, say)."""
    kafka_port, controller_port = _kafka_ports(kafka_brokers)
    return Settings(
        **(overrides or {}),
        data_dir=root,
        redis_port=free_port(),
        sql_port=free_port(),
        mongo_port=free_port(),
        postgres_port=free_port(),
        rabbitmq_port=free_port(),
        rabbitmq_dist_port=free_port(),
        kafka_brokers=kafka_brokers,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
    )


def _link_built_artefacts(root: Path) -> None:
    jars = SHARED / "kafka" / "libs"
    if (jars / ".pom-sha256").exists():
        (root / "kafka").mkdir(parents=True, exist_ok=True)
        (root / "kafka" / "libs").symlink_to(jars)
    ferretdb = SHARED / "bin" / "ferretdb"
    if ferretdb.exists():
        (root / "bin").mkdir(parents=True, exist_ok=True)
        (root / "bin" / "ferretdb").symlink_to(ferretdb)


def reap_orphans(parent: Path | None = None) -> list[Path]:
    """Stop and delete the private stacks of test runs that were killed (their `finally`
    never ran, so their servers kept running); returns the folders reaped."""
    reaped = []
    for owner in (parent or Path(tempfile.gettempdir())).glob(f"{PREFIX}*/{OWNER_FILE}"):
        try:
            pid = int(owner.read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue
        if process.start_ticks(pid) is not None:  # alive (a zombie counts as gone)
            continue
        root = owner.parent
        orphan = Settings(data_dir=root)
        _off_the_loop(lambda: manager.down(orphan, report=lambda _: None))  # noqa: B023
        shutil.rmtree(root, ignore_errors=True)
        reaped.append(root)
    return reaped


def _off_the_loop(call: Callable[[], object]) -> None:
    """Run `call` in a thread: a caller inside a running event loop (an async test's
    fixture) cannot run the stack manager's own loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(call).result()


@contextmanager
def private_stack(
    only: Sequence[str],
    kafka_brokers: int = 1,
    start: bool = True,
    overrides: Mapping[str, Any] | None = None,
) -> Iterator[Settings]:
    """Settings of a stack of these servers only (with `overrides`, see private_settings),
    started (unless start=False), always stopped and deleted afterwards."""
    reap_orphans()
    root = Path(tempfile.mkdtemp(prefix=PREFIX))
    root.chmod(0o755)  # RabbitMQ and PostgreSQL run as their own users and must enter it
    (root / OWNER_FILE).write_text(f"{os.getpid()}\n", encoding="ascii")
    settings = private_settings(root, kafka_brokers, overrides)
    try:
        _link_built_artefacts(root)
        if start:
            _off_the_loop(lambda: manager.up(settings, only, report=lambda _: None))
        yield settings
    finally:
        _off_the_loop(lambda: manager.down(settings, report=lambda _: None))
        shutil.rmtree(root, ignore_errors=True)
