"""Each broker's own ceiling, measured with JVM clients so Python's cost is not in the figure.

Kafka: `ProducerPerformance` from Maven Central's kafka-tools, idempotent with acks=all as
our gateway produces. RabbitMQ: our `ConfirmPublisher` (loadtest/java) on amqp-client,
persistent messages to a durable queue with confirms. Both are built once with the stack's
Maven into .stack/bench-clients.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

from loadtest.brokers import delete_topic
from loadtest.processes import ROOT
from squidstream.settings import Settings
from squidstream.topics import ensure_topics

POM = ROOT / "loadtest" / "java" / "pom.xml"
SOURCES = ROOT / "loadtest" / "java" / "src"
RECORD_BYTES = 120  # about one GameEvent's protobuf size
KAFKA_LINE = re.compile(
    r"(?P<records>\d+) records sent, (?P<rate>[\d.]+) records/sec .*?"
    r"(?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th"
)
PAIR = re.compile(r"(\w+)=([\d.]+)")


class JavaClientError(RuntimeError):
    """The JVM clients could not be built or did not print their result line."""


@dataclass(frozen=True, slots=True)
class BrokerCeiling:
    broker: str
    client: str
    records: int
    records_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def parse_kafka_perf(output: str) -> BrokerCeiling:
    """The final summary line of ProducerPerformance (the progress lines come before it)."""
    matches = list(KAFKA_LINE.finditer(output))
    if not matches:
        raise JavaClientError(f"no summary line in ProducerPerformance output:\n{output[-2000:]}")
    last = matches[-1]
    return BrokerCeiling(
        broker="kafka",
        client="kafka-tools ProducerPerformance (Java), acks=all, idempotent",
        records=int(last["records"]),
        records_per_s=float(last["rate"]),
        p50_ms=float(last["p50"]),
        p95_ms=float(last["p95"]),
        p99_ms=float(last["p99"]),
    )


def parse_confirm_publisher(output: str) -> BrokerCeiling:
    """ConfirmPublisher's one `key=value ...` result line."""
    for line in reversed(output.splitlines()):
        values = dict(PAIR.findall(line))
        if {"messages", "records_per_s", "p50_ms", "p95_ms", "p99_ms"} <= values.keys():
            return BrokerCeiling(
                broker="rabbitmq",
                client="amqp-client ConfirmPublisher (Java), persistent, confirms",
                records=int(float(values["messages"])),
                records_per_s=float(values["records_per_s"]),
                p50_ms=float(values["p50_ms"]),
                p95_ms=float(values["p95_ms"]),
                p99_ms=float(values["p99_ms"]),
            )
    raise JavaClientError(f"no result line in ConfirmPublisher output:\n{output[-2000:]}")


def _fingerprint() -> str:
    digest = hashlib.sha256(POM.read_bytes())
    for source in sorted(SOURCES.rglob("*.java")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def build(settings: Settings) -> str:
    """Compile the clients and gather their jars (skipped when nothing changed); the classpath."""
    out = settings.data_dir / "bench-clients"
    stamp, wanted = out / ".sources-sha256", _fingerprint()
    if not (stamp.exists() and stamp.read_text(encoding="ascii").strip() == wanted):
        mvn = shutil.which("mvn")
        if mvn is None:
            raise JavaClientError("mvn not found: `squidstream stack up` installs Maven")
        argv = [
            mvn, "-B", "-q", "-f", str(POM),
            f"-Dmaven.repo.local={settings.data_dir / 'downloads' / 'm2'}",
            f"-Dbench.build={out}",
            "compile", "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={out / 'lib'}",
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900)
        if done.returncode != 0:
            raise JavaClientError(f"Maven failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}")
        stamp.write_text(wanted + "\n", encoding="ascii")
    return f"{out / 'classes'}:{out / 'lib'}/*"


def _java(classpath: str, main: str, args: list[str], timeout_s: float) -> str:
    java = shutil.which("java")
    if java is None:
        raise JavaClientError("java not found: `squidstream stack up` installs the JDK")
    argv = [java, "-Xmx512m", "-cp", classpath, main, *args]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout_s)
    if done.returncode != 0:
        raise JavaClientError(f"{main} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return done.stdout


async def kafka_ceiling(settings: Settings, classpath: str, records: int) -> BrokerCeiling:
    topic = f"bench-report-perf-{uuid.uuid4().hex[:8]}"
    # The broker does not create topics on first use; give it the events topic's partitions.
    await ensure_topics(settings, {topic: settings.events_partitions})
    try:
        output = _java(
            classpath,
            "org.apache.kafka.tools.ProducerPerformance",
            [
                "--topic",
                topic,
                "--num-records",
                str(records),
                "--record-size",
                str(RECORD_BYTES),
                "--throughput",
                "-1",
                "--producer-props",
                f"bootstrap.servers={settings.kafka_bootstrap}",
                "acks=all",
                "enable.idempotence=true",
                "linger.ms=5",
            ],
            timeout_s=300,
        )
    finally:
        await delete_topic(settings, topic)
    return parse_kafka_perf(output)


def rabbitmq_ceiling(settings: Settings, classpath: str, messages: int) -> BrokerCeiling:
    queue = f"bench-report-perf-{uuid.uuid4().hex[:8]}"
    output = _java(
        classpath,
        "squidstream.bench.ConfirmPublisher",
        [
            settings.rabbitmq_host,
            str(settings.rabbitmq_port),
            settings.rabbitmq_user,
            settings.rabbitmq_password.get_secret_value(),
            queue,
            str(messages),
            str(RECORD_BYTES),
            "500",
        ],
        timeout_s=300,
    )
    return parse_confirm_publisher(output)


def classpath_exists(classpath: str) -> bool:
    return Path(classpath.split(":", 1)[0]).is_dir()
