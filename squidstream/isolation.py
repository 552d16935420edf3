"""Private copies of the settings: one run of its own (a test, a benchmark) on shared servers."""

from __future__ import annotations

import re
from typing import Any

from squidstream.settings import Settings


def isolated(base: Settings, name: str, web_port: int | None = None, **update: Any) -> Settings:
    """`base` with every name that holds data made `name`'s own: the events and dead-letter
    topics and queues, the Faust app id (consumer group, changelogs, workers topic), the Redis
    prefix, the SQL and Mongo databases; and a worker web port of its own when given.

    `name` goes into a SQL database name as it is: lowercase letters, digits and underscores.
    `update` sets further fields on top.
    """
    if not re.fullmatch(r"[a-z0-9_]+", name):
        raise ValueError(f"{name!r}: only lowercase letters, digits and underscores")
    private: dict[str, Any] = {
        "events_topic": f"{name}-events",
        "dead_letter_topic": f"{name}-dlq",
        "rabbitmq_queue": f"{name}-events",
        "rabbitmq_dead_letter_queue": f"{name}-dlq",
        "faust_app_id": name,
        "redis_prefix": name,
        "sql_database": name,
        "mongo_database": name,
    }
    if web_port is not None:
        private["faust_web_port"] = web_port
    return base.model_copy(update={**private, **update})
