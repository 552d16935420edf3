"""Faust's broker credentials reach its aiokafka clients as the arguments our own clients get."""

from __future__ import annotations

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from streams.worker.app import create_app
from streams.worker.broker_auth import broker_credentials


def _settings(protocol: str, mechanism: str = "PLAIN") -> Settings:
    if not protocol.startswith("SASL"):
        return Settings(kafka_security_protocol=protocol)
    return Settings(
        kafka_security_protocol=protocol,
        kafka_sasl_mechanism=mechanism,
        kafka_username="squid",
        kafka_password="secret",
    )


def test_plaintext_gives_faust_no_credentials() -> None:
    assert broker_credentials(Settings()) is None
    assert credentials_to_aiokafka_auth(None) == {"security_protocol": "PLAINTEXT"}


@pytest.mark.parametrize(
    ("protocol", "mechanism"),
    [
        ("SASL_PLAINTEXT", "PLAIN"),
        ("SASL_PLAINTEXT", "SCRAM-SHA-512"),
        ("SASL_SSL", "SCRAM-SHA-256"),
        ("SSL", "PLAIN"),
    ],
)
def test_faust_passes_aiokafka_what_kafka_auth_gives_our_clients(
    protocol: str, mechanism: str
) -> None:
    settings = _settings(protocol, mechanism)
    ours = kafka_auth(settings)
    fausts = dict(credentials_to_aiokafka_auth(broker_credentials(settings)))
    assert fausts["security_protocol"] == protocol
    assert isinstance(fausts["ssl_context"], type(ours["ssl_context"]))
    expected = {key: value for key, value in ours.items() if key in fausts}
    fausts["ssl_context"] = expected["ssl_context"]  # a fresh context per call: same kind
    assert fausts == expected
    if protocol.startswith("SASL"):
        assert fausts.keys() == ours.keys()


def test_the_worker_app_is_built_with_the_settings_credentials() -> None:
    app = create_app(_settings("SASL_PLAINTEXT"))
    credentials = app.conf.broker_credentials
    assert credentials is not None
    auth = credentials_to_aiokafka_auth(credentials)
    assert (auth["security_protocol"], auth["sasl_plain_username"]) == ("SASL_PLAINTEXT", "squid")
