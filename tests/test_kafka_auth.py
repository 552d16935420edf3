"""Kafka credentials and TLS: the settings refuse what cannot work, and the one function every
aiokafka client takes gives each protocol's keyword arguments, which aiokafka accepts."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings, SettingsError, load_settings
from tests.helpers import self_signed

SECRET = 's3cr3t p@ss"word'


@pytest.fixture(scope="module")
def ca_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A self-signed certificate, made with the openssl CLI, to trust as the CA."""
    cert, _ = self_signed(tmp_path_factory.mktemp("kafka-tls"), "squid-kafka-test-ca")
    return cert


def _sasl(protocol: str, **extra: object) -> Settings:
    return Settings(
        kafka_security_protocol=protocol,
        kafka_username="squid",
        kafka_password=SECRET,
        **extra,  # type: ignore[arg-type]
    )


def _trusted_subjects(context: ssl.SSLContext | None) -> list[object]:
    assert context is not None
    return [cert["subject"] for cert in context.get_ca_certs()]


def test_plaintext_is_the_default_and_gives_aiokafkas_own_defaults() -> None:
    assert kafka_auth(Settings()) == {
        "security_protocol": "PLAINTEXT",
        "sasl_mechanism": "PLAIN",
        "sasl_plain_username": None,
        "sasl_plain_password": None,
        "ssl_context": None,
    }


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
def test_sasl_plaintext_sends_the_user_and_password_without_tls(mechanism: str) -> None:
    auth = kafka_auth(_sasl("SASL_PLAINTEXT", kafka_sasl_mechanism=mechanism))
    assert auth["security_protocol"] == "SASL_PLAINTEXT"
    assert auth["sasl_mechanism"] == mechanism
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("squid", SECRET)
    assert auth["ssl_context"] is None


def test_sasl_ssl_verifies_the_broker_against_the_ca_file(ca_file: Path) -> None:
    auth = kafka_auth(_sasl("SASL_SSL", kafka_sasl_mechanism="SCRAM-SHA-512", tls_ca_file=ca_file))
    assert (auth["security_protocol"], auth["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == ("squid", SECRET)
    context = auth["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname
    assert ((("commonName", "squid-kafka-test-ca"),),) in _trusted_subjects(context)


def test_ssl_alone_sends_no_credentials_and_trusts_the_ca_file(ca_file: Path) -> None:
    auth = kafka_auth(Settings(kafka_security_protocol="SSL", tls_ca_file=ca_file))
    assert auth["security_protocol"] == "SSL"
    assert (auth["sasl_plain_username"], auth["sasl_plain_password"]) == (None, None)
    assert ((("commonName", "squid-kafka-test-ca"),),) in _trusted_subjects(auth["ssl_context"])


def test_tls_without_a_ca_file_trusts_the_systems_cas() -> None:
    context = kafka_auth(Settings(kafka_security_protocol="SSL"))["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED


def test_the_protocol_and_mechanism_are_read_from_the_environment_in_any_case(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SQUID_KAFKA_SECURITY_PROTOCOL", "sasl_plaintext")
    monkeypatch.setenv("SQUID_KAFKA_SASL_MECHANISM", "scram-sha-256")
    monkeypatch.setenv("SQUID_KAFKA_USERNAME", "squid")
    monkeypatch.setenv("SQUID_KAFKA_PASSWORD", SECRET)
    settings = load_settings()
    assert kafka_auth(settings)["security_protocol"] == "SASL_PLAINTEXT"
    assert kafka_auth(settings)["sasl_mechanism"] == "SCRAM-SHA-256"
    assert SECRET not in repr(settings)
    assert settings.as_env()["SQUID_KAFKA_PASSWORD"] == SECRET


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SQUID_KAFKA_SECURITY_PROTOCOL": "TLS"}, "SQUID_KAFKA_SECURITY_PROTOCOL"),
        ({"SQUID_KAFKA_SASL_MECHANISM": "GSSAPI"}, "SQUID_KAFKA_SASL_MECHANISM"),
        ({"SQUID_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs SQUID_KAFKA_USERNAME and"),
        (
            {"SQUID_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SQUID_KAFKA_USERNAME": "squid"},
            "SQUID_KAFKA_PASSWORD: set both",
        ),
        (
            {"SQUID_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT", "SQUID_KAFKA_PASSWORD": SECRET},
            "SQUID_KAFKA_PASSWORD: set both",
        ),
        (
            {
                "SQUID_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
                "SQUID_KAFKA_USERNAME": "squid",
                "SQUID_KAFKA_PASSWORD": "",
            },
            "set both",
        ),
        ({"SQUID_KAFKA_USERNAME": "squid", "SQUID_KAFKA_PASSWORD": SECRET}, "for SASL only"),
        (
            {"SQUID_KAFKA_SECURITY_PROTOCOL": "SSL", "SQUID_KAFKA_USERNAME": "squid"},
            r"for SASL only.*\(not SSL\)",
        ),
        ({"SQUID_KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"}, r"needs.*\(not PLAINTEXT\)"),
        (
            {"SQUID_KAFKA_SECURITY_PROTOCOL": "SSL", "SQUID_TLS_CA_FILE": "/nonexistent.pem"},
            "does not exist",
        ),
    ],
)
def test_an_inconsistent_kafka_setting_is_refused_at_load_with_what_to_set(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


@pytest.mark.asyncio
@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL", "SSL"])
async def test_every_aiokafka_client_accepts_the_arguments_of_each_protocol(protocol: str) -> None:
    if protocol.startswith("SASL"):
        settings = _sasl(protocol, kafka_sasl_mechanism="SCRAM-SHA-256")
    else:
        settings = Settings(kafka_security_protocol=protocol)
    auth = kafka_auth(settings)
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, **auth)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, **auth)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **auth)
    try:
        for client in (producer.client, consumer._client, admin._client):
            assert client._security_protocol == protocol
            assert client._ssl_context is auth["ssl_context"]
            assert client._sasl_plain_password == auth["sasl_plain_password"]
    finally:
        await producer.stop()
        await consumer.stop()
        await admin.close()
