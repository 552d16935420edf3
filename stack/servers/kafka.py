"""Kafka 4 in KRaft combined mode, from Maven Central jars resolved by stack/kafka/pom.xml."""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from stack.errors import ServerError
from stack.install import ensure_packages, require_binary
from stack.servers.base import STACK_SOURCES, Report, Server
from stack.servers.kafka_config import log4j2_xml, server_properties

POM = STACK_SOURCES / "kafka" / "pom.xml"
HEAP = ("-Xms256m", "-Xmx1g")


class Kafka(Server):
    name = "kafka"
    start_timeout_s = 120.0
    stop_timeout_s = 60.0

    @property
    def port(self) -> int:
        return self.settings.kafka_port

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, self.settings.kafka_controller_port)

    @property
    def home(self) -> Path:
        """Jars and generated config; the log segments live in data/kafka."""
        return self.paths.root / "kafka"

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def config(self) -> Path:
        return self.home / "server.properties"

    @property
    def marker(self) -> str:
        return str(self.config)

    def prepare(self, report: Report) -> None:
        ensure_packages({"java": "openjdk-17-jre-headless", "mvn": "maven"}, report)
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
            require_binary("mvn", "maven"), "-B", "-q", "-f", str(POM),
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
        text = server_properties(self.settings, self.bind_host, self.data_dir)
        self.config.write_text(text, encoding="utf-8")
        (self.home / "log4j2.xml").write_text(log4j2_xml(), encoding="utf-8")

    def _format_storage(self, report: Report) -> None:
        report("kafka: formatting the KRaft storage (first run only)")
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode("ascii").rstrip("=")
        argv = [*self._java(), "kafka.tools.StorageTool", "format"]
        argv += ["-t", cluster_id, "-c", str(self.config)]
        with self.log_path.open("a", encoding="utf-8") as log:
            done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise ServerError(self.name, f"storage format failed; see {self.log_path}")

    def _java(self) -> list[str]:
        return [
            require_binary("java", "openjdk-17-jre-headless"),
            *HEAP,
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
        admin = AIOKafkaAdminClient(
            bootstrap_servers=f"{self.settings.kafka_host}:{self.port}", request_timeout_ms=5000
        )
        await admin.start()
        try:
            await admin.list_topics()
        finally:
            await admin.close()
