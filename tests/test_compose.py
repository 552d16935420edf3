"""docker-compose.yml cannot run here (no Docker engine): these tests keep it true to the code."""

from __future__ import annotations

import base64
import copy
import os
import re
import shutil
import stat
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from squidstream.settings import PROJECT_ROOT, Settings
from tests.deploy.checks import (
    command_problem,
    debian_version,
    ferretdb_version,
    kafka_version,
    squid_names_in,
    tidb_version,
    unknown_settings,
)

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
PORTS_OVERRIDE = PROJECT_ROOT / "deploy" / "compose" / "ports.yml"
SECRETS_SCRIPT = PROJECT_ROOT / "deploy" / "compose-secrets.sh"
SECRETS_DIR = PROJECT_ROOT / "deploy" / "compose" / "secrets"
DOCKERFILE = PROJECT_ROOT / "Dockerfile"
# The only services published by default, and the container port each publishes.
PUBLISHED = {"ingress": "ingress_port", "views": "views_port"}
# TiKV refuses to start with fewer open files than this.
TIKV_MIN_NOFILE = 82920


@cache
def _parsed(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def _load(path: Path) -> dict[str, Any]:
    """The file's YAML, a fresh copy each time (tests may change it)."""
    return copy.deepcopy(_parsed(path))


def _services() -> dict[str, dict[str, Any]]:
    services = _load(COMPOSE)["services"]
    assert isinstance(services, dict)
    return services


def _our_services() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _services().items()
        if service.get("image", "").startswith("squidstream")
    }


def _servers() -> dict[str, dict[str, Any]]:
    ours = _our_services()
    return {name: service for name, service in _services().items() if name not in ours}


def _kafka_nodes() -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in _services().items()
        if service["image"].startswith("apache/kafka:")
    }


def _image_tag(service: str) -> tuple[str, str]:
    image, _, tag = _services()[service]["image"].rpartition(":")
    return image, tag


# --- what it runs -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("service", "image"),
    [
        ("rabbitmq", "rabbitmq"),
        ("redis", "redis"),
        ("pd", "pingcap/pd"),
        ("tikv", "pingcap/tikv"),
        ("tidb", "pingcap/tidb"),
        ("mongodb", "ghcr.io/ferretdb/ferretdb"),
    ],
)
def test_compose_file_names_every_server_with_its_official_image(service: str, image: str) -> None:
    assert _image_tag(service)[0] == image


def test_every_kafka_node_runs_the_kafka_release_the_tests_run() -> None:
    assert len(_kafka_nodes()) == 3
    for name in _kafka_nodes():
        assert _image_tag(name) == ("apache/kafka", kafka_version()), name


@pytest.mark.parametrize("service", ["pd", "tikv", "tidb"])
def test_tidb_cluster_runs_the_tidb_release_the_tests_run(service: str) -> None:
    assert _image_tag(service)[1] == tidb_version()


def test_mongo_wire_server_is_the_ferretdb_release_the_stack_embeds() -> None:
    assert _image_tag("mongodb")[1] == ferretdb_version()


@pytest.mark.parametrize(("service", "package"), [("redis", "redis-server")])
def test_server_runs_the_version_debian_ships_to_the_tests(service: str, package: str) -> None:
    installed = debian_version(package)
    if installed is None:
        pytest.skip(f"{package} is not installed here (the stack installs it)")
    assert _image_tag(service)[1] == installed


def test_rabbitmq_runs_the_version_debian_ships_to_the_tests() -> None:
    installed = debian_version("rabbitmq-server")
    if installed is None:
        pytest.skip("rabbitmq-server is not installed here (the stack installs it)")
    # No -management suffix: the management UI (and its guest login) is not part of the image.
    assert _image_tag("rabbitmq")[1] == installed


def test_no_image_tag_floats() -> None:
    for name, service in _services().items():
        tag = service["image"].rpartition(":")[2]
        assert re.fullmatch(r"v?\d+\.\d+\.\d+", tag), f"{name}: {service['image']} is not x.y.z"


@pytest.mark.parametrize("name", ["kafka-1", "rabbitmq", "redis", "mongodb"])
def test_every_server_the_services_wait_for_has_a_healthcheck(name: str) -> None:
    assert _services()[name]["healthcheck"]["test"]


def test_services_wait_only_for_servers_that_have_a_healthcheck() -> None:
    for name, service in _services().items():
        depends = service.get("depends_on", {})
        for server, condition in depends.items() if isinstance(depends, dict) else []:
            if condition["condition"] == "service_healthy":
                assert _services()[server].get("healthcheck"), f"{name} waits for {server}"


def test_compose_runs_several_faust_workers() -> None:
    workers = [s for s in _our_services().values() if s["command"] == ["worker"]]
    assert len(workers) >= 2


@pytest.mark.parametrize("name", sorted(_our_services()))
def test_each_service_command_is_a_real_squidstream_subcommand(name: str) -> None:
    assert command_problem(_our_services()[name]["command"]) is None


def test_every_squid_variable_in_compose_is_a_setting() -> None:
    names = squid_names_in(COMPOSE.read_text())
    assert names, "compose sets no SQUID_* variables"
    assert not unknown_settings(names)


def _check_compose_schema(*files: Path) -> subprocess.CompletedProcess[str]:
    check = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run(
        [str(check), "--builtin-schema", "vendor.compose-spec", *map(str, files)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_files_are_valid_against_the_compose_specification() -> None:
    done = _check_compose_schema(COMPOSE, PORTS_OVERRIDE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_compose_schema_check_rejects_a_misspelt_key(tmp_path: Path) -> None:
    broken = _load(COMPOSE)
    broken["services"]["tikv"]["ulimit"] = broken["services"]["tikv"].pop("ulimits")
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    assert _check_compose_schema(path).returncode != 0


# --- what it exposes ----------------------------------------------------------------------------


def test_no_broker_store_or_gateway_publishes_a_port_by_default() -> None:
    published = {name for name, service in _services().items() if service.get("ports")}
    assert published == set(PUBLISHED)


@pytest.mark.parametrize(("service", "field"), sorted(PUBLISHED.items()))
def test_ingress_and_views_publish_their_default_port_on_loopback_unless_told(
    service: str, field: str
) -> None:
    default = Settings.model_fields[field].default
    (port,) = _services()[service]["ports"]
    assert port["target"] == default
    assert port["published"] == str(default)
    assert port["host_ip"] == "${PUBLISH_ADDRESS:-127.0.0.1}"


def test_debug_override_publishes_only_on_the_hosts_loopback() -> None:
    services = _load(PORTS_OVERRIDE)["services"]
    assert set(services) <= set(_services())
    for name, service in services.items():
        for port in service["ports"]:
            assert port.startswith("127.0.0.1:"), f"{name}: {port}"


@pytest.mark.parametrize(
    ("service", "field"),
    [
        ("gateway-kafka", "gateway_kafka_port"),
        ("gateway-rabbitmq", "gateway_rabbitmq_port"),
        ("rabbitmq", "rabbitmq_port"),
        ("redis", "redis_port"),
        ("mongodb", "mongo_port"),
    ],
)
def test_debug_override_publishes_the_settings_defaults(service: str, field: str) -> None:
    default = Settings.model_fields[field].default
    ports = _load(PORTS_OVERRIDE)["services"][service]["ports"]
    assert f"127.0.0.1:{default}:{default}" in ports


# --- credentials --------------------------------------------------------------------------------


def test_compose_file_holds_no_password() -> None:
    text = COMPOSE.read_text().lower()
    assert "guest" not in text
    assert not re.search(r"(password|_pass)\s*:", text), "a password is written in compose"


def test_every_squidstream_service_reads_the_generated_env_file() -> None:
    for name, service in _our_services().items():
        assert service["env_file"] == ["deploy/compose/secrets/squid.env"], name
    assert _services()["rabbitmq"]["env_file"] == ["deploy/compose/secrets/rabbitmq.env"]


def test_tidb_sets_roots_password_from_the_generated_file_at_bootstrap() -> None:
    tidb = _services()["tidb"]
    assert "--initialize-sql-file=/run/secrets/tidb-init.sql" in tidb["command"]
    assert tidb["secrets"] == ["tidb-init.sql"]
    secret = _load(COMPOSE)["secrets"]["tidb-init.sql"]
    assert secret == {"file": "deploy/compose/secrets/tidb-init.sql"}


def test_generated_credentials_are_git_ignored() -> None:
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    probe = SECRETS_DIR / "squid.env"
    done = subprocess.run([git, "check-ignore", "-q", str(probe)], cwd=PROJECT_ROOT, check=False)
    assert done.returncode == 0, f"{probe} would be committed"


def _generate(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    script = out / "deploy" / SECRETS_SCRIPT.name
    script.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(SECRETS_SCRIPT, script)
    return subprocess.run(
        ["sh", str(script), *args], capture_output=True, text=True, check=False, cwd=out
    )


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_secrets_script_writes_private_files_with_fresh_random_passwords(tmp_path: Path) -> None:
    runs = []
    for run in ("a", "b"):
        out = tmp_path / run
        assert _generate(out).returncode == 0
        secrets = out / "deploy" / "compose" / "secrets"
        for name in ("squid.env", "rabbitmq.env", "tidb-init.sql"):
            assert stat.S_IMODE((secrets / name).stat().st_mode) == 0o600, name
        runs.append(_env_file(secrets / "squid.env"))
    assert runs[0]["SQUID_SQL_PASSWORD"] != runs[1]["SQUID_SQL_PASSWORD"]
    assert runs[0]["SQUID_SQL_PASSWORD"] != runs[0]["SQUID_RABBITMQ_PASSWORD"]
    assert all(len(value) >= 40 for value in runs[0].values() if "PASSWORD" in value)


def test_generated_passwords_agree_between_our_services_and_the_servers(tmp_path: Path) -> None:
    assert _generate(tmp_path).returncode == 0
    secrets = tmp_path / "deploy" / "compose" / "secrets"
    ours = Settings(_env_file=secrets / "squid.env")
    rabbitmq = _env_file(secrets / "rabbitmq.env")
    assert rabbitmq["RABBITMQ_DEFAULT_USER"] == ours.rabbitmq_user != "guest"
    assert rabbitmq["RABBITMQ_DEFAULT_PASS"] == ours.rabbitmq_password.get_secret_value()
    sql = (secrets / "tidb-init.sql").read_text()
    password = ours.sql_password.get_secret_value()
    assert f"ALTER USER 'root'@'%' IDENTIFIED BY '{password}';" in sql
    assert ours.sql_user == "root"
    assert not unknown_settings(_env_file(secrets / "squid.env"))


def test_secrets_script_keeps_existing_passwords_unless_forced(tmp_path: Path) -> None:
    assert _generate(tmp_path).returncode == 0
    env = tmp_path / "deploy" / "compose" / "secrets" / "squid.env"
    first = env.read_text()
    refused = _generate(tmp_path)
    assert refused.returncode == 1
    assert "--force" in refused.stderr
    assert env.read_text() == first
    assert _generate(tmp_path, "--force").returncode == 0
    assert env.read_text() != first


# --- durability and a multi-broker Kafka --------------------------------------------------------


def test_kafka_keeps_its_log_on_its_volume() -> None:
    for name, node in _kafka_nodes().items():
        log_dirs = node["environment"]["KAFKA_LOG_DIRS"]
        mounts = [volume.split(":")[1] for volume in node["volumes"]]
        assert log_dirs in mounts, name
        assert node["volumes"][0].split(":")[0] in _load(COMPOSE)["volumes"]


def test_kafka_nodes_have_distinct_volumes_and_node_ids() -> None:
    nodes = _kafka_nodes().values()
    assert len({node["volumes"][0] for node in nodes}) == len(nodes)
    assert len({node["environment"]["KAFKA_NODE_ID"] for node in nodes}) == len(nodes)


def _cluster_id() -> str:
    ids = {node["environment"]["CLUSTER_ID"] for node in _kafka_nodes().values()}
    assert len(ids) == 1, "every node needs the same fixed CLUSTER_ID"
    return str(ids.pop())


def test_kafka_cluster_id_is_fixed_and_a_valid_kafka_uuid() -> None:
    cluster_id = _cluster_id()
    raw = base64.urlsafe_b64decode(cluster_id + "==")
    assert len(raw) == 16
    assert base64.urlsafe_b64encode(raw).decode().rstrip("=") == cluster_id


def test_kafka_itself_accepts_the_cluster_id(tmp_path: Path) -> None:
    libs = Settings().data_dir / "kafka" / "libs"
    java = shutil.which("java")
    if java is None or not list(libs.glob("kafka-clients-*.jar")):
        pytest.skip("the stack's Kafka jars are not installed here")
    source = tmp_path / "CheckClusterId.java"
    source.write_text(
        "public class CheckClusterId { public static void main(String[] a) {"
        " System.out.print(org.apache.kafka.common.Uuid.fromString(a[0])); } }"
    )
    done = subprocess.run(
        [java, "-cp", f"{libs}/*", str(source), _cluster_id()],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == _cluster_id()


def test_every_kafka_node_is_a_voter_and_advertises_its_own_name() -> None:
    nodes = _kafka_nodes()
    voters = {f"{node['environment']['KAFKA_NODE_ID']}@{name}:9093" for name, node in nodes.items()}
    for name, node in nodes.items():
        env = node["environment"]
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
        assert env["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        assert node["hostname"] == name
        assert "kafka" in node["networks"]["default"]["aliases"]


def test_replication_of_every_topic_survives_one_broker_down() -> None:
    brokers = len(_kafka_nodes())
    squid = _our_services()["gateway-kafka"]["environment"]
    for node in _kafka_nodes().values():
        env = node["environment"]
        factor = int(env["KAFKA_DEFAULT_REPLICATION_FACTOR"])
        min_isr = int(env["KAFKA_MIN_INSYNC_REPLICAS"])
        assert 1 < min_isr < factor <= brokers
        assert int(env["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"]) == factor
        assert int(env["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"]) == factor
        assert int(env["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"]) == min_isr
        assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
    assert int(squid["SQUID_EVENTS_REPLICATION_FACTOR"]) == factor
    assert int(squid["SQUID_EVENTS_MIN_INSYNC_REPLICAS"]) == min_isr


def test_rabbitmq_has_a_fixed_hostname_so_its_data_folder_survives_a_recreate() -> None:
    assert _services()["rabbitmq"]["hostname"] == "rabbitmq"


def test_tikv_may_open_enough_files() -> None:
    nofile = _services()["tikv"]["ulimits"]["nofile"]
    assert min(nofile["soft"], nofile["hard"]) >= TIKV_MIN_NOFILE


# --- the image ----------------------------------------------------------------------------------


def test_dockerfile_copies_only_paths_that_exist() -> None:
    dockerfile = DOCKERFILE.read_text()
    for source in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, flags=re.MULTILINE):
        for path in source.split():
            assert (PROJECT_ROOT / path).exists(), path


def test_image_installs_the_pinned_versions() -> None:
    install = re.search(r"^RUN pip install (.+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert install, "the Dockerfile installs nothing with pip"
    assert "-c constraints.txt" in install.group(1)


def test_image_runs_the_python_the_tests_run() -> None:
    match = re.search(r"^FROM python:(\d+)\.(\d+)\.(\d+)-", DOCKERFILE.read_text(), re.MULTILINE)
    assert match, "the Python base image is not pinned to x.y.z"
    assert tuple(int(part) for part in match.groups()) == sys.version_info[:3]


def test_image_builds_the_dashboards_chart_library_with_npm_ci() -> None:
    dockerfile = DOCKERFILE.read_text()
    assert "COPY views/package.json views/package-lock.json ./" in dockerfile
    assert re.search(r"^RUN npm ci\b", dockerfile, flags=re.MULTILINE)
    python = re.search(r"^FROM python:(\d+\.\d+)", dockerfile, flags=re.MULTILINE)
    assert python
    site_views = f"/usr/local/lib/python{python.group(1)}/site-packages/views/node_modules"
    assert f"COPY --from=assets /views/node_modules {site_views}" in dockerfile


def test_image_builds_assets_with_the_node_the_tests_run() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed here")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    assert f"FROM node:{version.stdout.strip().lstrip('v')}-" in DOCKERFILE.read_text()


def test_image_runs_as_an_unprivileged_user() -> None:
    users = re.findall(r"^USER (\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert users
    assert users[-1] not in {"root", "0"}


def test_secrets_script_is_executable() -> None:
    assert os.access(SECRETS_SCRIPT, os.X_OK)
