"""Credentials and TLS of every Kafka client, as aiokafka keyword arguments, from the settings.

Every AIOKafkaProducer, AIOKafkaConsumer, AIOKafkaAdminClient and AIOKafkaClient we build
takes `**kafka_auth(settings)`; Faust's credentials (streams.worker.broker_auth) come from the same.
"""

from __future__ import annotations

import ssl
from typing import TypedDict

from squidstream.settings import KAFKA_SASL_PROTOCOLS, Settings


class KafkaAuth(TypedDict):
    """aiokafka keyword arguments for the security protocol, SASL and TLS."""

    security_protocol: str
    sasl_mechanism: str
    sasl_plain_username: str | None
    sasl_plain_password: str | None
    ssl_context: ssl.SSLContext | None


def kafka_auth(settings: Settings) -> KafkaAuth:
    """The settings' protocol, SASL credentials (for SASL_*) and TLS context (for *SSL).

    PLAINTEXT gives aiokafka's own defaults, so a client without credentials is unchanged.
    """
    sasl = settings.kafka_security_protocol in KAFKA_SASL_PROTOCOLS
    password = settings.kafka_password
    return KafkaAuth(
        security_protocol=settings.kafka_security_protocol,
        sasl_mechanism=settings.kafka_sasl_mechanism,
        sasl_plain_username=settings.kafka_username if sasl else None,
        sasl_plain_password=password.get_secret_value() if sasl and password else None,
        ssl_context=settings.kafka_ssl(),
    )
