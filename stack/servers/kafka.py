"""Kafka 4 in KRaft combined mode, from Maven Central jars resolved by stack/kafka/pom.xml.

`Kafka` is the single broker (`kafka`, settings.kafka_port). With settings.kafka_brokers = N > 1
the stack runs `kafka-1` .. `kafka-N` instead (`broker_class(i)`): every node is a broker and a
controller (all N are voters), each with its own config, data folder, log and pid file, on the
ports of `broker_ports` (the layout is described at Settings.kafka_brokers). They share the
jars and one cluster id, kept in kafka/cluster.id so a node formatted later joins the same
cluster.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import time
import uuid
from functools import cache
from pathlib import Path
from typing import ClassVar, cast

from aiokafka import AIOKafkaClient
from aiokafka.admin import AIOKafkaAdminClient

from squidstream.kafka_auth import KafkaAuth, kafka_auth
from stack.errors import ServerError
from stack.servers.base import STACK_SOURCES, Report, Server, write_config
from stack.servers.kafka_config import broker_ports, log4j2_xml, server_properties

POM = STACK_SOURCES / "kafka" / "pom.xml"
HEAP = ("-Xms256m", "-Xmx1g")
# Three JVMs share our 2 cores and the other engineers' servers: a smaller heap each.
CLUSTER_HEAP = ("-Xms128m", "-Xmx512m")
FORMAT_ATTEMPTS = 2
MAX_BROKERS = 5


class ProbeOptions(KafkaAuth):
    """aiokafka keyword arguments of a health check: this very broker, a short timeout."""

    bootstrap_servers: str
    request_timeout_ms: int


class Kafka(Server):
    name = "kafka"
    port_field = "kafka_port"
    start_timeout_s = 120.0
    stop_timeout_s = 60.0
    packages: ClassVar[dict[str, str]] = {"java": "openjdk-17-jre-headless", "mvn": "maven"}
    # 0: the single broker; 1..N: a node of an N-broker cluster (its node.id).
    node_id: ClassVar[int] = 0

    @property
    def port(self) -> int:
        return self.ports[0]

    @property
    def ports(self) -> tuple[int, ...]:
        return broker_ports(self.settings, self.node_id)

    @property
    def home(self) -> Path:
        """Jars (shared by every broker) and the cluster id; the segments live in data/NAME."""
        return self.paths.root / "kafka"

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def config(self) -> Path:
        if self.node_id == 0:
            return self.home / "server.properties"
        return self.home / self.name / "server.properties"

    @property
    def cluster_id_path(self) -> Path:
        return self.home / "cluster.id"

    @property
    def marker(self) -> str:
        return str(self.config)

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        self._fetch_jars(report)
        self._write_config()
        if not (self.data_dir / "meta.properties").exists():
            self._format_storage(report)

    def _fetch_jars(self, report: Report) -> None:
        stamp = self.libs / ".pom-sha256"
        wanted = hashlib.sha256(POM.read_bytes()).hexdigest()
        if stamp.exists() and stamp.read_text(encoding="ascii").strip() == wanted:
            return
        report("kafka: fetching the broker jars with Maven (first run only, ~70 MB)")
        started = time.monotonic()
        tmp = self.home / "libs.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        argv = [
            self.executable("mvn"), "-B", "-q", "-f", str(POM),
            f"-Dmaven.repo.local={self.paths.downloads / 'm2'}",
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerError(self.name, f"Maven failed:\n{done.stdout}{done.stderr}")
        (tmp / ".pom-sha256").write_text(wanted + "\n", encoding="ascii")
        shutil.rmtree(self.libs, ignore_errors=True)
        tmp.replace(self.libs)
        count = len(list(self.libs.glob("*.jar")))
        report(f"kafka: {count} jars ready in {time.monotonic() - started:.0f}s")

    def _write_config(self) -> None:
        # Regenerated on every start so a port change in the settings takes effect.
        text = server_properties(self.settings, self.bind_host, self.data_dir, self.node_id)
        # Private when the SASL password is in it.
        write_config(self.config, text, private=self.settings.kafka_password is not None)
        write_config(self.home / "log4j2.xml", log4j2_xml())

    def _cluster_id(self) -> str:
        """The single broker gets a fresh id; cluster nodes share the one in kafka/cluster.id."""
        if self.node_id == 0:
            return new_cluster_id()
        if not self.cluster_id_path.exists():
            self.cluster_id_path.write_text(new_cluster_id() + "\n", encoding="ascii")
        return self.cluster_id_path.read_text(encoding="ascii").strip()

    def _format_storage(self, report: Report) -> None:
        report(f"{self.name}: formatting the KRaft storage (first run only)")
        argv = [*self._java(), "kafka.tools.StorageTool", "format"]
        # --ignore-formatted: a retry after an attempt that got as far as writing meta.properties.
        argv += ["-t", self._cluster_id(), "-c", str(self.config), "--ignore-formatted"]
        # It failed once in a few hundred private stacks, with the cause lost with the stack's
        # folder: one more try, and the tool's own words in the error.
        for attempt in range(FORMAT_ATTEMPTS):
            done = subprocess.run(argv, capture_output=True, text=True, check=False)
            with self.log_path.open("a", encoding="utf-8") as log:
                log.write(done.stdout + done.stderr)
            if done.returncode == 0:
                return
            report(f"{self.name}: storage format failed (attempt {attempt + 1})")
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])
        reason = f"storage format failed (exit {done.returncode}): {tail}; see {self.log_path}"
        raise ServerError(self.name, reason)

    def _java(self) -> list[str]:
        return [
            self.executable("java"),
            *(HEAP if self.node_id == 0 else CLUSTER_HEAP),
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.home / 'log4j2.xml'}",
            "-cp",
            f"{self.libs}/*",
        ]

    def argv(self) -> list[str]:
        return [*self._java(), "kafka.Kafka", str(self.config)]

    async def check(self) -> None:
        if self.node_id == 0:
            await self._check_single()
        else:
            await self._check_node()

    def _probe_options(self) -> ProbeOptions:
        return {
            "bootstrap_servers": f"{self.settings.kafka_host}:{self.port}",
            "request_timeout_ms": 5000,
            **kafka_auth(self.settings),
        }

    async def _check_single(self) -> None:
        admin = AIOKafkaAdminClient(**self._probe_options())
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    async def _check_node(self) -> None:
        # bootstrap() asks this very broker for metadata (an admin call may go to any node),
        # and a broker lists itself only once the controllers have unfenced it.
        client = AIOKafkaClient(**self._probe_options())
        try:
            await client.bootstrap()
            alive = {broker.nodeId for broker in client.cluster.brokers()}
        finally:
            await client.close()
        if self.node_id not in alive:
            raise RuntimeError(f"broker {self.node_id} is not in its own metadata: {alive}")


def new_cluster_id() -> str:
    """A random KRaft cluster id (22 characters of URL-safe base64, as kafka-storage makes)."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")


@cache
def broker_class(node_id: int) -> type[Kafka]:
    """The server class of node `node_id` (1..MAX_BROKERS) of a cluster: named kafka-ID."""
    if not 1 <= node_id <= MAX_BROKERS:
        raise ValueError(f"node id {node_id} outside 1..{MAX_BROKERS}")
    attributes = {"name": f"kafka-{node_id}", "node_id": node_id, "__module__": __name__}
    return cast(type[Kafka], type(f"KafkaBroker{node_id}", (Kafka,), attributes))


def cluster_classes(brokers: int) -> tuple[type[Kafka], ...]:
    """The servers of the Kafka layout: the single broker, or kafka-1 .. kafka-N."""
    if brokers == 1:
        return (Kafka,)
    return tuple(broker_class(node) for node in range(1, brokers + 1))
