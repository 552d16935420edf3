"""`squidstream stack`: argument checks and the status table."""

from __future__ import annotations

import pytest

from squidshell.cli import build_parser
from squidstream.settings import load_settings
from stack.cli import command_settings, format_table
from stack.manager import ServerStatus


def test_only_rejects_a_server_that_does_not_exist(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["stack", "up", "--only", "zookeeper"])
    assert exit_info.value.code == 2
    assert "zookeeper" in capsys.readouterr().err


def test_only_accepts_several_servers() -> None:
    args = build_parser().parse_args(["stack", "status", "--only", "redis", "kafka"])
    assert args.only == ["redis", "kafka"]


def test_status_table_aligns_columns_and_marks_health() -> None:
    rows = [
        ServerStatus("redis", 6379, 42, True, "running"),
        ServerStatus("ferretdb", 27017, None, False, "stopped"),
    ]
    lines = format_table(rows).splitlines()
    assert lines[0].split() == ["server", "port", "pid", "healthy", "note"]
    assert lines[1].split() == ["redis", "6379", "42", "yes", "running"]
    assert lines[2].split() == ["ferretdb", "27017", "-", "no", "stopped"]
    assert len({line.index(line.split()[1]) for line in lines}) == 1  # ports in one column


def test_kafka_brokers_option_sets_the_cluster_size_for_the_command() -> None:
    args = build_parser().parse_args(["stack", "up", "--kafka-brokers", "3"])
    assert command_settings(args).kafka_brokers == 3
    args = build_parser().parse_args(["stack", "status"])
    assert command_settings(args).kafka_brokers == load_settings().kafka_brokers


@pytest.mark.parametrize("fault", ["kill", "pause", "resume", "restart"])
def test_fault_commands_take_one_server_name(fault: str) -> None:
    args = build_parser().parse_args(["stack", fault, "kafka-2", "--kafka-brokers", "3"])
    assert (args.fault, args.name, args.kafka_brokers) == (fault, "kafka-2", 3)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stack", fault, "zookeeper"])
