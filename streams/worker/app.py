"""The Faust app (`faust -A streams.worker.app worker`): projects game-events into SQL, Redis,
MongoDB and the exact tables."""

from __future__ import annotations

import logging
import socket
from typing import Any

import faust

from squidstream.settings import Settings, get_settings
from squidstream.worker_pages import TABLE_KEY_PATH, TABLES_PATH
from streams.worker.bridge import Bridge
from streams.worker.broker_auth import broker_credentials
from streams.worker.projection_agent import ProjectionAgent
from streams.worker.registry import Registry
from streams.worker.tables import Tables, define_tables, snapshot
from streams.worker.topics import ensure_worker_topics, worker_topics

log = logging.getLogger(__name__)


class SquidWorker(faust.Worker):
    """Faust's worker without its terminal spinner. To spin on every log record, the spinner
    sets the root logger to DEBUG (at `-l warn` and above), so each debug call in aiokafka,
    pymongo and Faust built a record the handlers then dropped: about 5% of a draining
    worker's CPU (py-spy, 60,000-event drain on our 2-core machine)."""

    def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
        self.spinner = None
        super().on_setup_root_logger(logger, level)


class SquidApp(faust.App):
    """A faust.App that creates all its topics (auto-creation is off) before anything starts."""

    squid_settings: Settings

    async def on_first_start(self) -> None:
        """Runs before the producer, consumer, tables and agents start (streams.worker.topics)."""
        await super().on_first_start()
        changelogs = [table.changelog_topic for table in self.tables.values()]
        await ensure_worker_topics(
            self.squid_settings, worker_topics(self.squid_settings, changelogs)
        )


def instance_id(settings: Settings) -> str:
    """This worker's static group membership id: a restart under it keeps the partitions."""
    return settings.worker_instance_id or f"{socket.gethostname()}-{settings.faust_web_port}"


def create_app(settings: Settings) -> SquidApp:
    """Build the app, its tables, the projection agent, the bridge service and web page."""
    app = SquidApp(
        settings.faust_app_id,
        broker=f"kafka://{settings.kafka_bootstrap}",
        broker_credentials=broker_credentials(settings),
        store=settings.faust_store,
        web_host=settings.faust_advertised_host,
        web_bind=settings.faust_bind_host,
        web_port=settings.faust_web_port,
        topic_partitions=settings.events_partitions,
        topic_replication_factor=settings.events_replication_factor,
        processing_guarantee="at_least_once",
        consumer_auto_offset_reset="earliest",
        Worker=SquidWorker,
        consumer_group_instance_id=instance_id(settings),
        # Keys carry their source partition; standbys would make a worker report others' keys.
        table_standby_replicas=0,
        producer_acks=-1,
        # Table changelog records are many and small: let them share produce requests.
        producer_linger=0.005,
        producer_max_batch_size=256 * 1024,
        broker_session_timeout=settings.consumer_session_timeout_s,
        broker_heartbeat_interval=max(1.0, settings.consumer_session_timeout_s / 4),
    )
    app.squid_settings = settings
    tables = define_tables(app)
    projection = ProjectionAgent(app, settings, tables)
    projection.register()
    Registry(app, settings, projection.owned).register()
    bridge = Bridge(app, settings)
    app.add_dependency(bridge)  # started and stopped with the worker
    register_page(app, tables, projection, bridge)
    return app


def register_page(
    app: faust.App, tables: Tables, projection: ProjectionAgent, bridge: Bridge
) -> None:
    """GET /squid/tables/: this worker's table values and counters, as JSON;
    GET /squid/tables/{table}/{key}/: one key, summed over the partitions this worker owns."""

    @app.page(TABLE_KEY_PATH)
    async def squid_table_key(web: Any, request: Any, table: str, key: str) -> Any:
        found = tables.counters.get(table)
        if found is None:
            return web.json({"error": f"no table {table!r}"}, status=404)
        owned = projection.owned()
        value = sum(int(v[0]) for p in owned if (v := found.get(f"{p}:{key}")))
        return web.json({"table": table, "key": key, "value": value, "partitions": sorted(owned)})

    @app.page(TABLES_PATH)
    async def squid_tables(web: Any, request: Any) -> Any:
        owned = projection.owned()
        body = snapshot(tables, owned)
        body["partitions"] = sorted(owned)
        projector = projection.projector
        body["worker"] = {
            "batches": projector.batches if projector else 0,
            "projected": projector.projected if projector else 0,
            "dead_letters": (projector.dead_letters.count if projector else 0)
            + bridge.dead_letters,
            "bridge_forwarded": bridge.forwarded,
        }
        return web.json(body)


app = create_app(get_settings())
