"""The generated Kafka files follow the settings: one node, or a cluster on its own ports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from squidstream.settings import Settings
from stack import manager
from stack.errors import StackError
from stack.servers.kafka import MAX_BROKERS
from stack.servers.kafka_config import broker_ports, log4j2_xml, server_properties


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


def test_a_cluster_node_lists_every_node_as_a_voter_on_its_own_ports() -> None:
    settings = Settings(kafka_brokers=3)
    props = _parse(server_properties(settings, "127.0.0.1", Path("/d/kafka-2"), node_id=2))
    assert props["node.id"] == "2"
    assert props["controller.quorum.voters"] == (
        "1@127.0.0.1:9193,2@127.0.0.1:9293,3@127.0.0.1:9393"
    )
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:9292,CONTROLLER://127.0.0.1:9293"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:9292"
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    # Topics made elsewhere with one replica must stay writable with acks=all.
    assert props["min.insync.replicas"] == "1"


def test_the_cluster_layout_never_takes_a_port_of_the_single_broker() -> None:
    for brokers in range(2, MAX_BROKERS + 1):
        settings = Settings(kafka_brokers=brokers)
        cluster = {p for node in range(1, brokers + 1) for p in broker_ports(settings, node)}
        assert len(cluster) == 2 * brokers
        assert cluster.isdisjoint(broker_ports(settings, 0))
        assert cluster.isdisjoint({settings.kafka_port, settings.kafka_controller_port})


def test_the_bootstrap_setting_lists_every_broker_the_stack_starts() -> None:
    assert Settings().kafka_bootstrap == "127.0.0.1:9092"
    settings = Settings(kafka_brokers=3, kafka_port=20000)
    servers = manager.make_servers(settings, ["kafka"])
    assert [s.name for s in servers] == ["kafka-1", "kafka-2", "kafka-3"]
    assert settings.kafka_bootstrap == ",".join(f"127.0.0.1:{s.port}" for s in servers)
    assert settings.kafka_bootstrap == "127.0.0.1:20100,127.0.0.1:20200,127.0.0.1:20300"


def test_each_cluster_node_has_its_own_config_data_log_and_pid(tmp_path: Path) -> None:
    servers = manager.make_servers(Settings(data_dir=tmp_path, kafka_brokers=3), ["kafka"])
    for attribute in ("config", "data_dir", "log_path", "pid_path", "marker"):
        values = {str(getattr(server, attribute)) for server in servers}
        assert len(values) == 3, attribute
    single = manager.make_servers(Settings(data_dir=tmp_path), ["kafka"])[0]
    assert all(single.marker not in node.marker for node in servers)


def test_a_broker_name_the_settings_do_not_run_is_refused_with_the_setting_to_change() -> None:
    with pytest.raises(StackError, match="SQUID_KAFKA_BROKERS"):
        manager.make_servers(Settings(), ["kafka-2"])
    with pytest.raises(StackError, match="kafka_brokers=3"):
        manager.make_servers(Settings(kafka_brokers=3), ["kafka-4"])
