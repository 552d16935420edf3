"""The fault suite runs on a private stack of its own, so a server it kills or stops can
never disturb another test; its fault table is printed at the end of the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from squidstream.settings import Settings
from tests.stack.private import private_stack

RESULTS: list[dict[str, Any]] = []
SERVERS = ("kafka", "rabbitmq", "redis", "mariadb", "ferretdb")


@pytest.fixture(scope="session")
def fault_stack() -> Iterator[Settings]:
    with private_stack(SERVERS) as settings:
        yield settings


@pytest.fixture(scope="session")
def cluster_stack() -> Iterator[Settings]:
    """Three KRaft brokers (and the other servers), for the broker-loss fault."""
    with private_stack(SERVERS, kafka_brokers=3) as settings:
        yield settings.model_copy(
            update={"events_replication_factor": 3, "events_min_insync_replicas": 2}
        )


@pytest.fixture
def fault_table() -> list[dict[str, Any]]:
    return RESULTS


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not RESULTS:
        return
    terminalreporter.section("fault table")
    header = (
        f"{'fault':34} {'accepted':>8} {'during':>7} {'lost':>5} {'doubled':>7} {'recover s':>9}"
    )
    terminalreporter.write_line(header)
    for row in RESULTS:
        terminalreporter.write_line(
            f"{row['fault']:34} {row['accepted']:>8} {row['during']:>7} {row['lost']:>5} "
            f"{row['doubled']:>7} {row['recover_s']:>9.1f}"
        )
    out = Path(".stack") / "fault-table.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(RESULTS, indent=2))
    terminalreporter.write_line(f"(also written to {out})")
