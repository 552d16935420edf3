"""The settings object: defaults, environment overrides and clear errors for bad values."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from squidstream.settings import Settings, SettingsError, load_settings

LoadWith = Callable[[str, str], Settings]


def test_defaults_are_loopback_and_the_design_ports() -> None:
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert (settings.redis_port, settings.sql_port, settings.mongo_port) == (6379, 3306, 27017)
    assert settings.kafka_gateway_target == "127.0.0.1:50051"


def test_environment_overrides_a_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQUID_EVENTS_TOPIC", "other-events")
    monkeypatch.setenv("SQUID_GATEWAY_RABBITMQ_ADDRESS", "gw:1234")
    settings = load_settings()
    assert settings.events_topic == "other-events"
    assert settings.rabbitmq_gateway_target == "gw:1234"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SQUID_KAFKA_PORT", "not-a-port"),
        ("SQUID_REDIS_PORT", "70000"),
        ("SQUID_SQL_SERVER", "postgres"),
        ("SQUID_EVENTS_TOPIC", "  "),
    ],
)
def test_a_bad_value_fails_with_the_variable_named(
    load_with: LoadWith, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        load_with(name, value)


def test_secrets_do_not_leak_into_the_repr() -> None:
    settings = Settings(rabbitmq_password="hunter2")
    assert "hunter2" not in repr(settings)
    assert "hunter2" in settings.rabbitmq_url


def test_a_gateway_deadline_shorter_than_the_ingress_timeout_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert Settings().ingress_call_timeout_s == 11.0  # 2 x the 5 s broker timeout, plus 1
    monkeypatch.setenv("SQUID_GATEWAY_CALL_DEADLINE_S", "10")
    with pytest.raises(SettingsError, match="SQUID_GATEWAY_CALL_DEADLINE_S"):
        load_settings()
    monkeypatch.setenv("SQUID_BROKER_TIMEOUT_S", "4")  # now 9 s: a 10 s deadline outlasts it
    assert load_settings().gateway_call_deadline_s == 10.0
