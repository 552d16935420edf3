"""The one definition of bearer tokens and safe binds (squidstream.auth), and the token settings."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from squidstream.auth import (
    bearer_token,
    grpc_metadata,
    http_headers,
    is_loopback,
    token_matches,
    unprotected_bind_problem,
)
from squidstream.settings import Settings, SettingsError, load_settings

TOKEN = SecretStr("s3cret-token-0123456789")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("  BEARER   abc  ", "abc"),
        ("Basic abc", None),
        ("Bearer", None),
        ("Bearer   ", None),
        ("", None),
        (None, None),
    ],
)
def test_bearer_token_is_read_from_the_authorization_value(
    header: str | None, token: str | None
) -> None:
    assert bearer_token(header) == token


def test_only_the_exact_token_matches() -> None:
    assert token_matches(TOKEN, f"Bearer {TOKEN.get_secret_value()}")
    assert not token_matches(TOKEN, f"Bearer {TOKEN.get_secret_value()}x")
    assert not token_matches(TOKEN, "Bearer s3cret")
    assert not token_matches(TOKEN, TOKEN.get_secret_value())  # no scheme
    assert not token_matches(TOKEN, None)
    assert not token_matches(TOKEN, "Bearer \udcff")  # undecodable input is refused, no crash


def test_without_a_configured_token_everyone_is_let_in() -> None:
    assert token_matches(None, None)


def test_clients_send_what_servers_accept() -> None:
    header = http_headers(TOKEN)["Authorization"]
    assert token_matches(TOKEN, header)
    ((key, value),) = grpc_metadata(TOKEN)
    assert key == "authorization"
    assert token_matches(TOKEN, value)
    assert http_headers(None) == {}
    assert grpc_metadata(None) == ()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost"])
def test_loopback_addresses_are_recognised(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "", "10.0.0.5", "gateway.example.com"])
def test_anything_else_counts_as_reachable_from_elsewhere(host: str) -> None:
    assert not is_loopback(host)


def test_a_wide_bind_needs_a_token() -> None:
    problem = unprotected_bind_problem("the ingress", "0.0.0.0", None)
    assert problem is not None
    assert "SQUID_WRITE_TOKEN" in problem
    assert "0.0.0.0" in problem
    assert unprotected_bind_problem("the ingress", "0.0.0.0", TOKEN) is None
    assert unprotected_bind_problem("the ingress", "127.0.0.1", None) is None


def test_an_empty_token_variable_means_no_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SQUID_WRITE_TOKEN", "")
    monkeypatch.setenv("SQUID_READ_TOKEN", "")
    settings = load_settings()
    assert settings.write_token is None
    assert settings.read_token is None
    assert "SQUID_WRITE_TOKEN" not in settings.as_env()


@pytest.mark.parametrize("value", ["short", "has a space inside it", "tab\tinside-the-token-x"])
def test_a_weak_or_malformed_token_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("SQUID_WRITE_TOKEN", value)
    with pytest.raises(SettingsError, match="SQUID_WRITE_TOKEN"):
        load_settings()


def test_a_token_reaches_child_processes_and_never_the_repr() -> None:
    settings = Settings(write_token=TOKEN)
    assert settings.as_env()["SQUID_WRITE_TOKEN"] == TOKEN.get_secret_value()
    assert TOKEN.get_secret_value() not in repr(settings)
