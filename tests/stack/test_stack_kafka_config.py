"""The generated Kafka files follow the settings: one node, or a cluster on its own ports."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from squidstream.settings import Settings
from stack import manager
from stack.errors import StackError
from stack.servers.kafka import MAX_BROKERS, Kafka
from stack.servers.kafka_config import broker_ports, log4j2_xml, server_properties


def _props(settings: Settings, data_dir: str = "/d", node_id: int = 0) -> dict[str, str]:
    """The broker's server.properties for `settings`, as a dict."""
    text = server_properties(settings, "127.0.0.1", Path(data_dir), node_id=node_id)
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return dict(pairs)


def test_listeners_and_quorum_follow_the_port_settings() -> None:
    settings = Settings(kafka_port=19092, kafka_controller_port=19093)
    props = _props(settings, "/data/kafka")
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["log.dirs"] == "/data/kafka"


def test_topics_are_never_created_implicitly_and_replication_fits_one_node() -> None:
    props = _props(Settings())
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
    props = _props(settings, "/d/kafka-2", node_id=2)
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


def _sasl_settings(**extra: object) -> Settings:
    values: dict[str, object] = {
        "kafka_security_protocol": "SASL_PLAINTEXT",
        "kafka_username": "squid",
        "kafka_password": "local-secret",
    }
    return Settings(**{**values, **extra})  # type: ignore[arg-type]


def test_a_sasl_setting_gives_the_clients_and_brokers_a_plain_sasl_listener() -> None:
    settings = _sasl_settings(kafka_port=19092, kafka_controller_port=19093)
    props = _props(settings)
    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"] == "SASL_PLAINTEXT://127.0.0.1:19092"
    assert props["inter.broker.listener.name"] == "SASL_PLAINTEXT"
    assert props["sasl.enabled.mechanisms"] == "PLAIN"
    assert props["sasl.mechanism.inter.broker.protocol"] == "PLAIN"
    jaas = props["listener.name.sasl_plaintext.plain.sasl.jaas.config"]
    assert jaas.startswith("org.apache.kafka.common.security.plain.PlainLoginModule required ")
    assert 'username="squid" password="local-secret" user_squid="local-secret";' in jaas


def test_the_controller_listener_stays_plaintext_on_loopback_with_sasl() -> None:
    props = _props(_sasl_settings())
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["listener.security.protocol.map"] == (
        "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT"
    )
    assert props["controller.quorum.voters"] == "1@127.0.0.1:9093"


def test_every_cluster_node_gets_the_sasl_listener_on_its_own_port() -> None:
    settings = _sasl_settings(kafka_brokers=3)
    props = _props(settings, "/d/kafka-3", node_id=3)
    assert props["listeners"] == "SASL_PLAINTEXT://127.0.0.1:9392,CONTROLLER://127.0.0.1:9393"
    assert props["inter.broker.listener.name"] == "SASL_PLAINTEXT"


def test_plaintext_settings_give_no_sasl_keys() -> None:
    props = _props(Settings())
    assert not [key for key in props if "sasl" in key]
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (lambda: _sasl_settings(kafka_sasl_mechanism="SCRAM-SHA-256"), "not SASL_PLAINTEXT with"),
        (lambda: Settings(kafka_security_protocol="SSL"), "not SSL;"),
        (
            lambda: Settings(
                kafka_security_protocol="SASL_SSL",
                kafka_username="squid",
                kafka_password="secret",
            ),
            "not SASL_SSL with PLAIN",
        ),
        (lambda: _sasl_settings(kafka_password='with"quote'), "SQUID_KAFKA_PASSWORD of printable"),
        (lambda: _sasl_settings(kafka_password="back\\slash"), "SQUID_KAFKA_PASSWORD"),
        (lambda: _sasl_settings(kafka_username="a b"), "SQUID_KAFKA_USERNAME of letters"),
    ],
    ids=["scram", "ssl", "sasl-ssl", "quote", "backslash", "space-in-user"],
)
def test_what_the_local_broker_cannot_run_is_refused_naming_the_setting(
    settings: Callable[[], Settings], message: str
) -> None:
    with pytest.raises(StackError, match=message):
        server_properties(settings(), "127.0.0.1", Path("/d"))


def test_the_config_holding_the_sasl_password_is_readable_by_its_owner_only(
    tmp_path: Path,
) -> None:
    [kafka] = manager.make_servers(_sasl_settings(data_dir=tmp_path), ["kafka"])
    assert isinstance(kafka, Kafka)
    kafka._write_config()
    assert kafka.config.stat().st_mode & 0o777 == 0o600
    assert "local-secret" in kafka.config.read_text(encoding="utf-8")
