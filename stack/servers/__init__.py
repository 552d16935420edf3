"""One module per local server; `SERVER_CLASSES` is the start order."""

from __future__ import annotations

from stack.servers.base import Server
from stack.servers.ferretdb import FerretDB
from stack.servers.kafka import Kafka
from stack.servers.mariadb import MariaDB
from stack.servers.rabbitmq import RabbitMQ
from stack.servers.redis import Redis

# Fast starters first so their output comes early; `up` waits for all of them together.
SERVER_CLASSES: tuple[type[Server], ...] = (Redis, MariaDB, FerretDB, RabbitMQ, Kafka)

__all__ = ["SERVER_CLASSES", "FerretDB", "Kafka", "MariaDB", "RabbitMQ", "Redis", "Server"]
