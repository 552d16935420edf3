"""One module per local server; `SERVER_CLASSES` is the start order."""

from __future__ import annotations

from collections.abc import Sequence

from squidstream.settings import Settings
from stack.servers.base import Server
from stack.servers.ferretdb import FerretDB
from stack.servers.kafka import MAX_BROKERS, Kafka, broker_class, cluster_classes
from stack.servers.mariadb import MariaDB
from stack.servers.postgresql import PostgreSQL
from stack.servers.rabbitmq import RabbitMQ
from stack.servers.redis import Redis
from stack.servers.tidb import TiDB

# Fast starters first so their output comes early; `up` waits for all of them together.
# Kafka stands for the Kafka layout: itself, or kafka-1 .. kafka-N (settings.kafka_brokers).
# PostgreSQL (FerretDB's backend when mongo_backend is postgresql) may start together with
# FerretDB: FerretDB connects on its first command and is healthy once PostgreSQL answers.
SERVER_CLASSES: tuple[type[Server], ...] = (
    Redis, MariaDB, TiDB, PostgreSQL, FerretDB, RabbitMQ, Kafka,
)  # fmt: skip
# Every server a stack can run under some settings (for names on the command line).
ALL_CLASSES: tuple[type[Server], ...] = SERVER_CLASSES + tuple(
    broker_class(node) for node in range(1, MAX_BROKERS + 1)
)
# The SQL servers by their `sql_server` setting; a stack runs exactly one of them.
SQL_SERVERS: dict[str, type[Server]] = {"mariadb": MariaDB, "tidb": TiDB}
# The port each SQL server listens on when SQUID_SQL_PORT is not set (`stack up --sql NAME`).
SQL_DEFAULT_PORTS: dict[str, int] = {"mariadb": 3306, "tidb": 4000}
# FerretDB's backends by their `mongo_backend` setting; postgresql runs PostgreSQL too.
MONGO_BACKENDS: tuple[str, ...] = ("sqlite", "postgresql")


def selected_classes(settings: Settings) -> tuple[type[Server], ...]:
    """The servers these settings run, in start order: the SQL one is `settings.sql_server`,
    Kafka one broker or `settings.kafka_brokers` nodes, PostgreSQL only as FerretDB's
    backend (`settings.mongo_backend`)."""
    chosen = SQL_SERVERS[settings.sql_server]
    others = set(SQL_SERVERS.values()) - {chosen}
    if settings.mongo_backend != "postgresql":
        others.add(PostgreSQL)
    selected: list[type[Server]] = []
    for cls in SERVER_CLASSES:
        if cls is Kafka:
            selected += cluster_classes(settings.kafka_brokers)
        elif cls not in others:
            selected.append(cls)
    return tuple(selected)


def with_backend(settings: Settings, only: Sequence[str] | None) -> Sequence[str] | None:
    """`only` plus postgresql when it names ferretdb on that backend (so `up --only ferretdb`
    and a fault's restart of FerretDB find their PostgreSQL running)."""
    if only is None or "ferretdb" not in only or settings.mongo_backend != "postgresql":
        return only
    return [*only, PostgreSQL.name]


__all__ = [
    "ALL_CLASSES",
    "MONGO_BACKENDS",
    "SERVER_CLASSES",
    "SQL_DEFAULT_PORTS",
    "SQL_SERVERS",
    "FerretDB",
    "Kafka",
    "MariaDB",
    "PostgreSQL",
    "RabbitMQ",
    "Redis",
    "Server",
    "TiDB",
    "selected_classes",
    "with_backend",
]
