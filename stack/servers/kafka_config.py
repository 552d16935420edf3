"""The generated Kafka files: server.properties for a KRaft node (single or clustered), log4j2."""

from __future__ import annotations

import re
from pathlib import Path

from squidstream.settings import Settings
from stack.errors import StackError

# What the properties file and a quoted JAAS option take without escaping (a properties file
# escapes with \\, a JAAS value ends at "): the local stack's Kafka user and password.
JAAS_USER = re.compile(r"[A-Za-z0-9._-]{1,64}")
JAAS_PASSWORD = re.compile(r"[ !#-\[\]-~]{1,128}")


def broker_ports(settings: Settings, node_id: int) -> tuple[int, int]:
    """(client port, controller port) of node 0 (the single broker) or node 1..N of a cluster.

    The layout of Settings.kafka_brokers: the cluster's ports are a step of 100 per node above
    the single broker's, so the two never collide. Settings.kafka_bootstrap lists the same.
    """
    offset = settings.KAFKA_CLUSTER_PORT_STEP * node_id
    return settings.kafka_port + offset, settings.kafka_controller_port + offset


def _voters(settings: Settings, host: str, node_id: int) -> str:
    if node_id == 0:
        return f"1@{host}:{settings.kafka_controller_port}"
    nodes = range(1, settings.kafka_brokers + 1)
    return ",".join(f"{node}@{host}:{broker_ports(settings, node)[1]}" for node in nodes)


def _replication(brokers: int) -> dict[str, str]:
    """Internal topics replicated over up to 3 brokers, writable with one of them down."""
    factor, min_isr = str(min(3, brokers)), str(min(2, brokers))
    return {
        # Topics created without a factor (never by us: squidstream.topics always sets one).
        "default.replication.factor": str(brokers),
        # The broker-wide default stays 1: a topic made elsewhere with one replica must stay
        # writable with acks=all; our topics set their own (settings.events_min_insync_replicas).
        "min.insync.replicas": "1",
        "offsets.topic.replication.factor": factor,
        "transaction.state.log.replication.factor": factor,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": factor,
        "share.coordinator.state.topic.min.isr": min_isr,
    }


def _failover(brokers: int) -> dict[str, str]:
    """A cluster notices a killed broker in 4 s instead of 9 s (loopback, no network blips)."""
    if brokers == 1:
        return {}
    return {"broker.session.timeout.ms": "4000", "broker.heartbeat.interval.ms": "1000"}


def client_listener(settings: Settings) -> str:
    """The client (and inter-broker) listener's name: PLAINTEXT, or SASL_PLAINTEXT with PLAIN.

    The local stack makes no certificates and no SCRAM users, so it refuses the rest.
    """
    protocol, mechanism = settings.kafka_security_protocol, settings.kafka_sasl_mechanism
    if protocol == "PLAINTEXT" or (protocol, mechanism) == ("SASL_PLAINTEXT", "PLAIN"):
        return protocol
    raise StackError(
        "the local stack runs Kafka with SQUID_KAFKA_SECURITY_PROTOCOL PLAINTEXT or"
        f" SASL_PLAINTEXT (mechanism PLAIN) only, not {protocol}"
        + (f" with {mechanism}" if protocol != "SSL" else "")
        + "; point the settings at a broker of your own for SSL, SASL_SSL or SCRAM"
    )


def _sasl(settings: Settings, listener: str) -> dict[str, str]:
    """PLAIN on the client listener; the brokers speak it to each other as the same user."""
    if listener == "PLAINTEXT":
        return {}
    user = settings.kafka_username
    secret = settings.kafka_password.get_secret_value() if settings.kafka_password else ""
    if not JAAS_USER.fullmatch(user) or not JAAS_PASSWORD.fullmatch(secret):
        raise StackError(
            "the local stack's Kafka takes a SQUID_KAFKA_USERNAME of letters, digits, . _ -"
            ' and a SQUID_KAFKA_PASSWORD of printable ASCII without \\ or " (1..128)'
        )
    jaas = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required"
        f' username="{user}" password="{secret}" user_{user}="{secret}";'
    )
    return {
        "sasl.enabled.mechanisms": "PLAIN",
        "sasl.mechanism.inter.broker.protocol": "PLAIN",
        f"listener.name.{listener.lower()}.plain.sasl.jaas.config": jaas,
    }


def server_properties(settings: Settings, host: str, log_dir: Path, node_id: int = 0) -> str:
    """A broker+controller node with a static quorum of every node, sized for 2 cores.

    node_id 0 is the single broker (node.id 1, one voter); 1..N a node of the cluster.
    """
    port, controller_port = broker_ports(settings, node_id)
    brokers = settings.kafka_brokers if node_id else 1
    broker, controller = f"{host}:{port}", f"{host}:{controller_port}"
    # The controllers talk PLAINTEXT on loopback whatever the clients' listener speaks.
    client = client_listener(settings)
    lines = {
        "process.roles": "broker,controller",
        "node.id": str(max(node_id, 1)),
        "controller.quorum.voters": _voters(settings, host, node_id),
        "listeners": f"{client}://{broker},CONTROLLER://{controller}",
        "advertised.listeners": f"{client}://{broker}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": client,
        "listener.security.protocol.map": f"{client}:{client},CONTROLLER:PLAINTEXT",
        **_sasl(settings, client),
        "log.dirs": str(log_dir),
        # Topics are created explicitly (squidstream.topics.ensure_topics), never by a typo.
        "auto.create.topics.enable": "false",
        "num.partitions": "1",
        **_replication(brokers),
        # Fewer offsets partitions: the first consumer group is ready in seconds, not a minute.
        "offsets.topic.num.partitions": "8",
        "transaction.state.log.num.partitions": "4",
        "group.initial.rebalance.delay.ms": "0",
        **_failover(brokers),
        "num.network.threads": "2",
        "num.io.threads": "4",
    }
    body = "\n".join(f"{key}={value}" for key, value in lines.items())
    return f"# Generated by `squidstream stack up`; edits are overwritten.\n{body}\n"


def log4j2_xml() -> str:
    """Broker logs to stdout (our log file) at INFO, the chatty internals at WARN."""
    quiet = ("kafka.controller", "state.change.logger", "kafka.log.LogCleaner", "org.apache.kafka")
    loggers = "\n".join(f'    <Logger name="{name}" level="warn"/>' for name in quiet)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Generated by `squidstream stack up`; edits are overwritten. -->
<Configuration status="warn">
  <Appenders>
    <Console name="stdout" target="SYSTEM_OUT">
      <PatternLayout pattern="[%d{{ISO8601}}] %p %m (%c)%n"/>
    </Console>
  </Appenders>
  <Loggers>
{loggers}
    <Root level="info"><AppenderRef ref="stdout"/></Root>
  </Loggers>
</Configuration>
"""
