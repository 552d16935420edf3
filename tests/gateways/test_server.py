"""A gateway starts only with an id the worker's decoder accepts."""

from __future__ import annotations

import argparse
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways import cli, server
from gateways.errors import InvalidConfiguration
from squidstream import contract
from squidstream.contract import gateway_id_problem
from squidstream.settings import Settings


@given(host=st.text(max_size=300))
def test_the_default_id_is_valid_for_any_host_name(host: str) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "gethostname", lambda: host)
        gateway_id = server.gateway_id_of("rabbitmq", Settings())
    assert gateway_id_problem(gateway_id) is None
    assert gateway_id.startswith("rabbitmq-")


def test_a_long_host_name_is_shortened_to_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(socket, "gethostname", lambda: "build-" + "x" * 200 + ".example")
    assert len(server.gateway_id_of("kafka", Settings())) <= 64


def test_the_configured_id_is_used_as_given() -> None:
    assert server.gateway_id_of("kafka", Settings(gateway_id="gw-7")) == "gw-7"


def test_an_id_the_decoder_would_reject_stops_the_gateway_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(contract, "default_gateway_id", lambda *_: "-bad id-")
    with pytest.raises(InvalidConfiguration, match="gateway_id"):
        server.GatewayServer("kafka", Settings(), port=0)
    code = cli._run_gateway(argparse.Namespace(route="kafka", port=None, profile=None))
    assert code == 2
    assert "cannot start" in capsys.readouterr().err
