"""The generated Kafka files follow the settings and keep the broker single-node and explicit."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from squidstream.settings import Settings
from stack.servers.kafka_config import log4j2_xml, server_properties


def _parse(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return dict(pairs)


def test_listeners_and_quorum_follow_the_port_settings() -> None:
    settings = Settings(kafka_port=19092, kafka_controller_port=19093)
    props = _parse(server_properties(settings, "127.0.0.1", Path("/data/kafka")))
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == "/data/kafka"


def test_topics_are_never_created_implicitly_and_replication_fits_one_node() -> None:
    props = _parse(server_properties(Settings(), "127.0.0.1", Path("/d")))
    assert props["auto.create.topics.enable"] == "false"
    factors = [value for key, value in props.items() if key.endswith("replication.factor")]
    assert factors
    assert set(factors) == {"1"}
    assert props["min.insync.replicas"] == "1"


def test_log4j2_config_is_xml_with_a_stdout_appender() -> None:
    root = ET.fromstring(log4j2_xml())
    console = root.find("Appenders/Console")
    assert console is not None
    assert console.get("target") == "SYSTEM_OUT"
