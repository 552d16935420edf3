"""The Faust app: `faust -A streams.app worker` projects game-events into SQL, Redis and Mongo."""

from __future__ import annotations

import logging
from typing import Any

import faust

from squidstream.settings import Settings, get_settings
from streams.agents import fatal_task, register_agents
from streams.bridge import Bridge
from streams.consumer import ProjectionConsumer, WorkerStats
from streams.tables import Tables, define_tables, snapshot
from streams.topics import deltas_topic, ensure_worker_topics, worker_topics

log = logging.getLogger(__name__)


class SquidApp(faust.App):
    """A faust.App that creates all its topics (auto-creation is off) before anything starts."""

    squid_settings: Settings

    async def on_first_start(self) -> None:
        """Runs before the producer, consumer, tables and agents start (streams.topics)."""
        await super().on_first_start()
        changelogs = [table.changelog_topic for table in self.tables.values()]
        await ensure_worker_topics(
            self.squid_settings, worker_topics(self.squid_settings, changelogs)
        )


def create_app(settings: Settings) -> SquidApp:
    """Build the app, its tables, table agent, projection and bridge tasks and web page."""
    app = SquidApp(
        settings.faust_app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        store=settings.faust_store,
        web_host=settings.faust_web_host,
        web_port=settings.faust_web_port,
        topic_partitions=settings.events_partitions,
        topic_replication_factor=1,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        # Keys carry their source partition; standbys would make a worker report others' keys.
        table_standby_replicas=0,
        producer_acks=-1,
        broker_session_timeout=settings.consumer_session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.consumer_session_timeout_s / 4),
    )
    app.squid_settings = settings
    deltas = app.topic(
        deltas_topic(settings),
        key_serializer="raw",
        # Raw, decoded by streams.tables.valid_deltas: a record Faust cannot decode would be
        # thrown into the agent, and an agent error stops the worker.
        value_serializer="raw",
        partitions=settings.events_partitions,
    )
    tables = define_tables(app)
    stats = WorkerStats()
    bridge = Bridge(settings)
    projection = ProjectionConsumer(settings, stats)
    register_agents(app, deltas, tables)
    app.task(fatal_task(app, "projection consumer", projection.run))
    app.task(fatal_task(app, "rabbitmq bridge", bridge.run))
    register_page(app, settings, tables, stats, bridge)
    return app


def register_page(
    app: faust.App, settings: Settings, tables: Tables, stats: WorkerStats, bridge: Bridge
) -> None:
    """GET /squid/tables/: this worker's table values and counters, as JSON."""

    @app.page("/squid/tables/")
    async def squid_tables(web: Any, request: Any) -> Any:
        assigned = {
            tp.partition for tp in app.consumer.assignment() if tp.topic == deltas_topic(settings)
        }
        body = snapshot(tables, assigned)
        body["partitions"] = sorted(assigned)
        body["worker"] = {
            "batches": stats.batches,
            "projected": stats.projected,
            "dead_letters": stats.dead_letters + bridge.dead_letters,
            "bridge_forwarded": bridge.forwarded,
        }
        return web.json(body)


app = create_app(get_settings())
