"""Credentials and TLS in the connection settings: encoded in URLs, parsed back intact by the
clients we use, and names that reach a query, a glob or a URL validated at load."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path

import aiormq
import pytest
import redis.asyncio as aioredis
from pymongo.uri_parser import parse_uri

from squidstream.settings import Settings, SettingsError

LoadWith = Callable[[str, str], Settings]

HOSTILE = "p/a#s@s%w:o?r d&="


@pytest.mark.asyncio
@pytest.mark.parametrize("password", [HOSTILE, "%2F", "@", "#", "/", "plain"])
async def test_a_rabbitmq_password_with_url_characters_reaches_the_client_intact(
    password: str,
) -> None:
    settings = Settings(rabbitmq_user="us@er/1", rabbitmq_password=password)
    connection = aiormq.Connection(settings.rabbitmq_url)  # parses, does not connect
    assert connection.url.user == "us@er/1"
    assert connection.url.password == password
    assert connection.url.host == "127.0.0.1"
    assert connection.url.port == 5672
    assert connection.vhost == "/"


@pytest.mark.asyncio
@pytest.mark.parametrize("vhost", ["/", "tournament", "a/b", "with space#1"])
async def test_the_rabbitmq_vhost_is_encoded_as_one_path_segment(vhost: str) -> None:
    connection = aiormq.Connection(Settings(rabbitmq_vhost=vhost).rabbitmq_url)
    assert connection.vhost == vhost


def test_rabbitmq_tls_uses_amqps_and_the_ca_file(tmp_path: Path) -> None:
    (tmp_path / "ca.pem").write_text("")
    url = Settings(
        rabbitmq_tls=True, rabbitmq_port=5671, tls_ca_file=tmp_path / "ca.pem"
    ).rabbitmq_url
    assert url.startswith("amqps://")
    assert f"cafile={str(tmp_path / 'ca.pem').replace('/', '%2F')}" in url


@pytest.mark.asyncio
async def test_redis_credentials_reach_redis_py_intact(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    settings = Settings(
        redis_username="ops", redis_password=HOSTILE, redis_tls=True, tls_ca_file=ca
    )
    assert settings.redis_url.startswith("rediss://")
    client = aioredis.Redis.from_url(settings.redis_url)
    try:
        options = client.connection_pool.connection_kwargs
        assert (options["username"], options["password"]) == ("ops", HOSTILE)
        assert options["ssl_ca_certs"] == str(ca)
        assert (options["host"], options["port"], options["db"]) == ("127.0.0.1", 6379, 0)
    finally:
        await client.aclose()


def test_redis_without_credentials_is_the_plain_url() -> None:
    settings = Settings(redis_password="")
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.redis_connection_options["password"] is None


def test_mongo_credentials_and_tls_reach_pymongo_intact(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("")  # pymongo checks that the file is readable
    settings = Settings(mongo_user="audit", mongo_password=HOSTILE, mongo_tls=True, tls_ca_file=ca)
    parsed = parse_uri(settings.mongo_url)
    assert (parsed["username"], parsed["password"]) == ("audit", HOSTILE)
    assert parsed["options"]["authSource"] == "admin"
    assert parsed["options"]["tls"] is True
    assert parsed["options"]["tlsCAFile"] == str(ca)


def test_mongo_without_a_user_sends_no_credentials() -> None:
    assert Settings().mongo_url == "mongodb://127.0.0.1:27017/"


def test_sql_tls_gives_a_verifying_context_and_none_without_tls() -> None:
    assert Settings().sql_ssl() is None
    context = Settings(sql_tls=True).sql_ssl()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert context.check_hostname


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SQUID_SQL_DATABASE", "squid`; DROP DATABASE x; --"),
        ("SQUID_SQL_DATABASE", "with-dash"),
        ("SQUID_SQL_DATABASE", "x" * 65),
        ("SQUID_MONGO_DATABASE", "a.b"),
        ("SQUID_MONGO_DATABASE", "a/b"),
        ("SQUID_MONGO_DATABASE", "$where"),
        ("SQUID_MONGO_COLLECTION", "system.users"),
        ("SQUID_MONGO_COLLECTION", "log$x"),
        ("SQUID_REDIS_PREFIX", "squid*"),
        ("SQUID_REDIS_PREFIX", "sq[ui]d"),
        ("SQUID_REDIS_PREFIX", "squid:req"),
        ("SQUID_REDIS_PREFIX", "a b"),
        ("SQUID_EVENTS_TOPIC", "events/../x"),
        ("SQUID_FAUST_APP_ID", "app id"),
        ("SQUID_RABBITMQ_QUEUE", "amq.gen-x"),
    ],
)
def test_an_unsafe_name_is_refused_at_load_naming_the_variable(
    load_with: LoadWith, name: str, value: str
) -> None:
    with pytest.raises(SettingsError, match=name):
        load_with(name, value)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SQUID_SQL_DATABASE", "views_test_0123abcd"),
        ("SQUID_MONGO_DATABASE", "views-test_01"),
        ("SQUID_REDIS_PREFIX", "test-gateways-0123abcd"),
        ("SQUID_EVENTS_TOPIC", "bench-ingest-1.events"),
    ],
)
def test_the_names_our_tests_and_benchmarks_use_are_accepted(
    load_with: LoadWith, name: str, value: str
) -> None:
    load_with(name, value)
