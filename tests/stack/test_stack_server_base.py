"""What every server inherits: its port from a Settings field, its tools, its config files."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest

from squidstream.settings import Settings
from stack.errors import StackError
from stack.paths import StackPaths
from stack.servers import FerretDB, Kafka, MariaDB, PostgreSQL, RabbitMQ, Redis, TiDB
from stack.servers.base import Server, write_config


@pytest.mark.parametrize(
    ("server", "port", "variable"),
    [
        (Redis, 6001, "SQUID_REDIS_PORT"),
        (MariaDB, 6002, "SQUID_SQL_PORT"),
        (TiDB, 6002, "SQUID_SQL_PORT"),
        (FerretDB, 6003, "SQUID_MONGO_PORT"),
        (RabbitMQ, 6004, "SQUID_RABBITMQ_PORT"),
        (Kafka, 6005, "SQUID_KAFKA_PORT"),
        (PostgreSQL, 6006, "SQUID_POSTGRES_PORT"),
    ],
)
def test_each_server_listens_on_its_settings_port_and_names_its_variable(
    server: type[Server], port: int, variable: str, tmp_path: Path
) -> None:
    settings = Settings(
        redis_port=6001,
        sql_port=6002,
        mongo_port=6003,
        rabbitmq_port=6004,
        kafka_port=6005,
        postgres_port=6006,
    )
    running = server(settings, StackPaths(tmp_path))
    assert (running.port, running.port_setting) == (port, variable)


@pytest.mark.parametrize("field", ["mongo_prot", "mongo_host"])
def test_a_port_field_that_is_no_int_setting_is_refused_when_the_class_is_made(
    field: str,
) -> None:
    with pytest.raises(TypeError, match=f"'{field}' is no int field of Settings"):
        type("Typo", (FerretDB,), {"port_field": field})


def test_a_missing_tool_names_the_package_that_brings_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("stack.install._EXTRA_DIRS", ())
    server = MariaDB(Settings(), StackPaths(tmp_path))
    expected = "`mariadbd` not found; install the Debian package mariadb-server"
    with pytest.raises(StackError, match=re.escape(expected)):
        server.executable("mariadbd")


def test_a_config_is_written_with_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "home" / "server.conf"
    write_config(path, "a = 1\n")
    assert path.read_text(encoding="utf-8") == "a = 1\n"


def test_a_private_config_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "secret.conf"
    path.write_text("old", encoding="utf-8")
    path.chmod(0o644)
    write_config(path, "password = x\n", private=True)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == "password = x\n"
