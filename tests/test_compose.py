"""docker-compose.yml cannot run here (no Docker engine): these tests keep it true to the code."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from squidstream.cli import build_parser
from squidstream.settings import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
OFFICIAL_IMAGES = {
    "kafka": "apache/kafka:",
    "rabbitmq": "rabbitmq:",
    "redis": "redis:",
    "tidb": "pingcap/tidb:",
    "mongodb": "mongo:",
}


def _compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _our_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _compose()["services"].items()
        if service.get("image", "").startswith("squidstream")
    }


def test_compose_file_names_every_server_with_its_official_image() -> None:
    services = _compose()["services"]
    for name, prefix in OFFICIAL_IMAGES.items():
        assert services[name]["image"].startswith(prefix), name


@pytest.mark.parametrize("name", ["kafka", "rabbitmq", "redis", "mongodb"])
def test_every_server_the_services_wait_for_has_a_healthcheck(name: str) -> None:
    assert _compose()["services"][name]["healthcheck"]["test"]


def test_compose_runs_several_faust_workers() -> None:
    workers = [s for s in _our_services().values() if s["command"] == ["worker"]]
    assert len(workers) >= 2


@pytest.mark.parametrize("name", sorted(_our_services()))
def test_each_service_command_is_a_real_squidstream_subcommand(name: str) -> None:
    command = _our_services()[name]["command"]
    args = build_parser().parse_args(command)
    assert callable(args.func), f"{name}: {command} has no handler"


def test_every_squid_variable_in_compose_is_a_setting() -> None:
    names = set(re.findall(r"\b(SQUID_[A-Z0-9_]+)\b", COMPOSE.read_text()))
    fields = {f"SQUID_{field.upper()}" for field in Settings.model_fields}
    assert names, "compose sets no SQUID_* variables"
    assert names <= fields, f"unknown settings: {sorted(names - fields)}"


@pytest.mark.parametrize(
    ("service", "field"),
    [
        ("gateway-kafka", "gateway_kafka_port"),
        ("gateway-rabbitmq", "gateway_rabbitmq_port"),
        ("ingress", "ingress_port"),
        ("views", "views_port"),
    ],
)
def test_published_ports_are_the_settings_defaults(service: str, field: str) -> None:
    default = Settings.model_fields[field].default
    assert f"{default}:{default}" in _our_services()[service]["ports"]


def test_dockerfile_copies_only_folders_that_exist() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (\S+)", dockerfile, flags=re.MULTILINE):
        assert (PROJECT_ROOT / source).exists(), source
