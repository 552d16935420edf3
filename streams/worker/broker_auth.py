"""Faust's broker credentials, from the same settings as every other Kafka client.

Faust hands `broker_credentials` to its consumers and producers (its aiokafka driver turns
them into the keyword arguments squidstream.kafka_auth gives our own clients); the
`kafka://` URL scheme says nothing about security.
"""

from __future__ import annotations

import faust
from faust.types.auth import CredentialsT

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import KAFKA_SASL_PROTOCOLS, Settings


def broker_credentials(settings: Settings) -> CredentialsT | None:
    """None for PLAINTEXT; SSL with the settings' context; SASL (over TLS with a context)."""
    auth = kafka_auth(settings)
    protocol = auth["security_protocol"]
    if protocol in KAFKA_SASL_PROTOCOLS:
        # Faust picks SASL_SSL exactly when it is given a TLS context.
        return faust.SASLCredentials(
            username=auth["sasl_plain_username"],
            password=auth["sasl_plain_password"],
            ssl_context=auth["ssl_context"],
            mechanism=auth["sasl_mechanism"],
        )
    if protocol == "SSL":
        return faust.SSLCredentials(auth["ssl_context"])
    return None
