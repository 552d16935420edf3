"""deploy/k8s: valid Kubernetes objects that run real squidstream commands with real settings.

No cluster here: kustomize renders the base, and kubernetes-validate checks every object
against the Kubernetes JSON schemas it ships (strict: an unknown field is an error).
"""

from __future__ import annotations

import copy
import re
import tomllib
from collections.abc import Iterator
from functools import cache
from typing import Any

import kubernetes_validate
import pytest
import yaml

from squidstream.settings import PROJECT_ROOT, Settings
from squidstream.worker_pages import TABLES_PATH
from tests.deploy.checks import command_problem, unknown_settings
from tests.deploy.kustomize import KustomizeUnavailable, build

K8S = PROJECT_ROOT / "deploy" / "k8s"
NAMESPACE = "squidstream"
SECRET = "squidstream-credentials"
# The oldest Kubernetes release we claim (gRPC probes are GA since 1.27) and the newest bundled.
VERSIONS = ("1.30.0", kubernetes_validate.latest_version())
WORKLOADS = ("Deployment", "StatefulSet")
# Each of our containers: the Settings field of its port.
PORT_FIELDS = {
    "gateway-kafka": "gateway_kafka_port",
    "gateway-rabbitmq": "gateway_rabbitmq_port",
    "ingress": "ingress_port",
    "views": "views_port",
    "worker": "faust_web_port",
}
# The brokers and stores: the host and port settings that name them.
EXTERNAL = {
    "kafka": ("SQUID_KAFKA_HOST", "kafka_port"),
    "rabbitmq": ("SQUID_RABBITMQ_HOST", "rabbitmq_port"),
    "redis": ("SQUID_REDIS_HOST", "redis_port"),
    "tidb": ("SQUID_SQL_HOST", "sql_port"),
    "mongodb": ("SQUID_MONGO_HOST", "mongo_port"),
}


def _kustomization() -> dict[str, Any]:
    data = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


@cache
def _rendered() -> tuple[dict[str, Any], ...]:
    try:
        return tuple(_documents(build(K8S)))
    except KustomizeUnavailable as exc:
        pytest.skip(str(exc))


def _kind(kind: str) -> list[dict[str, Any]]:
    return [obj for obj in _rendered() if obj["kind"] == kind]


def _workloads() -> dict[str, dict[str, Any]]:
    return {obj["metadata"]["name"]: obj for obj in _rendered() if obj["kind"] in WORKLOADS}


def _containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, workload in _workloads().items():
        for container in workload["spec"]["template"]["spec"]["containers"]:
            yield name, container


def _config() -> dict[str, str]:
    (config_map,) = [c for c in _kind("ConfigMap") if c["metadata"]["name"] == "squidstream-config"]
    data = config_map["data"]
    assert isinstance(data, dict)
    return data


def _service(name: str) -> dict[str, Any]:
    (service,) = [s for s in _kind("Service") if s["metadata"]["name"] == name]
    return service


def _problems(obj: dict[str, Any], version: str) -> str | None:
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path)
        return f"{obj['kind']}/{obj['metadata'].get('name')} {where}: {exc.message}"
    return None


# --- the files and the kustomization ------------------------------------------------------------


def test_kustomization_lists_every_manifest_in_the_folder() -> None:
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert sorted(_kustomization()["resources"]) == sorted(files)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "name", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
)
def test_each_manifest_file_is_valid_against_the_kubernetes_schemas(
    name: str, version: str
) -> None:
    objects = _documents((K8S / name).read_text())
    assert objects, f"{name} holds no object"
    problems = [p for obj in objects if (p := _problems(obj, version))]
    assert not problems


@pytest.mark.parametrize("version", VERSIONS)
def test_rendered_kustomization_is_valid_against_the_kubernetes_schemas(version: str) -> None:
    problems = [p for obj in _rendered() if (p := _problems(obj, version))]
    assert not problems


def test_the_validator_rejects_a_misspelt_field() -> None:
    (workload, *_) = _workloads().values()
    broken = copy.deepcopy(workload)
    broken["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    assert _problems(broken, VERSIONS[-1]) is not None


def test_every_object_is_in_the_namespace_and_labelled_part_of_squidstream() -> None:
    for obj in _rendered():
        meta = obj["metadata"]
        if obj["kind"] != "Namespace":
            assert meta["namespace"] == NAMESPACE, meta["name"]
        assert meta["labels"]["app.kubernetes.io/part-of"] == "squidstream", meta["name"]


def test_image_tag_is_the_projects_version() -> None:
    version = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]["version"]
    images = {container["image"] for _, container in _containers()}
    assert images == {f"squidstream:{version}"}


# --- what each container runs -------------------------------------------------------------------


def test_the_base_runs_each_of_our_services() -> None:
    commands = {tuple(container["args"]) for _, container in _containers()}
    assert commands == {
        ("gateway", "kafka"),
        ("gateway", "rabbitmq"),
        ("ingress",),
        ("views",),
        ("worker",),
    }


@pytest.mark.parametrize("name", sorted(PORT_FIELDS))
def test_each_container_runs_a_real_squidstream_subcommand(name: str) -> None:
    for workload, container in _containers():
        if workload == name:
            assert "command" not in container, "the image's entry point is squidstream"
            assert command_problem(container["args"]) is None


def test_every_squid_variable_is_a_setting() -> None:
    names = set(_config())
    for _, container in _containers():
        names |= {env["name"] for env in container.get("env", [])}
    assert not unknown_settings(names)
    assert all(name.startswith("SQUID_") for name in _config())


def test_config_values_with_the_secrets_keys_are_valid_settings() -> None:
    fields = {name.removeprefix("SQUID_").lower(): value for name, value in _config().items()}
    # The Kafka user and password come from the Secret: SASL_SSL is refused without them.
    secret = {"kafka_username": "squidstream", "kafka_password": "from-the-secret"}
    settings = Settings.model_validate(fields | secret)
    assert settings.sql_server == "tidb"
    assert (settings.kafka_security_protocol, settings.kafka_sasl_mechanism) == (
        "SASL_SSL",
        "SCRAM-SHA-512",
    )


def test_every_container_reads_the_kafka_credentials_from_the_secret() -> None:
    for workload, container in _containers():
        refs = {
            env["name"]: env["valueFrom"]["secretKeyRef"]
            for env in container.get("env", [])
            if "valueFrom" in env
        }
        for name in ("SQUID_KAFKA_USERNAME", "SQUID_KAFKA_PASSWORD"):
            assert refs.get(name) == {"name": "squidstream-credentials", "key": name}, workload


def test_credentials_come_only_from_the_secret_which_is_not_committed() -> None:
    assert not _kind("Secret"), "a Secret with values is committed"
    for name, container in _containers():
        for env in container.get("env", []):
            if re.search(r"PASSWORD|TOKEN|USER$", env["name"]):
                ref = env["valueFrom"]["secretKeyRef"]
                assert ref == {"name": SECRET, "key": env["name"]}, f"{name}: {env['name']}"
                assert "value" not in env
    assert not any(re.search("PASSWORD|TOKEN", key) for key in _config())


def test_every_container_reads_the_shared_config() -> None:
    for name, container in _containers():
        assert {"configMapRef": {"name": "squidstream-config"}} in container["envFrom"], name


# --- health, resources, security ----------------------------------------------------------------


def test_every_container_has_liveness_and_readiness_probes() -> None:
    for name, container in _containers():
        assert container.get("livenessProbe"), name
        assert container.get("readinessProbe"), name


def _port(container: dict[str, Any]) -> int:
    (port,) = container["ports"]
    number = port["containerPort"]
    assert isinstance(number, int)
    return number


@pytest.mark.parametrize(("name", "field"), sorted(PORT_FIELDS.items()))
def test_each_container_listens_on_its_settings_default_port(name: str, field: str) -> None:
    (container,) = [c for w, c in _containers() if w == name]
    assert _port(container) == Settings.model_fields[field].default


def test_gateways_are_ready_when_their_grpc_health_says_serving() -> None:
    for name, container in _containers():
        if name.startswith("gateway-"):
            assert container["readinessProbe"]["grpc"] == {"port": _port(container)}
            assert "tcpSocket" in container["livenessProbe"], "a broker outage must not restart it"


def _http_paths(name: str) -> set[str]:
    (container,) = [c for w, c in _containers() if w == name]
    return {
        container[probe]["httpGet"]["path"]
        for probe in ("livenessProbe", "readinessProbe")
        if "httpGet" in container[probe]
    }


def test_views_probes_are_its_health_routes() -> None:
    from views.app import create_app

    routes = set(create_app(Settings()).openapi()["paths"])
    assert _http_paths("views") == {"/healthz", "/readyz"}
    assert _http_paths("views") <= routes


def test_ingress_probe_is_a_route_of_the_ingress() -> None:
    from gateways.ingress import create_app

    # Every route, the ones left out of the OpenAPI document (/healthz, /metrics) too.
    routes = {getattr(route, "path", "") for route in create_app(Settings()).routes}
    assert _http_paths("ingress") == {"/healthz"}
    assert _http_paths("ingress") <= routes


def test_worker_probes_ask_the_page_each_worker_serves() -> None:
    from streams.worker.app import create_app

    assert _http_paths("worker") == {TABLES_PATH}
    assert TABLES_PATH in create_app(Settings()).web.views


def test_every_container_has_resource_requests_and_limits() -> None:
    for name, container in _containers():
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) == {"cpu", "memory"}, f"{name} {kind}"


def test_pods_run_unprivileged_as_the_images_user() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text()
    (user,) = re.findall(r"^USER (\d+)$", dockerfile, flags=re.MULTILINE)
    for name, workload in _workloads().items():
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["securityContext"]["runAsUser"] == int(user), name
        assert pod["automountServiceAccountToken"] is False, name
        for container in pod["containers"]:
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["capabilities"]["drop"] == ["ALL"], name


# --- services and workers -----------------------------------------------------------------------


def test_each_of_our_services_selects_its_pods_on_a_named_port() -> None:
    for name, workload in _workloads().items():
        service = _service(name)
        labels = workload["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= labels.items(), name
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        (port,) = service["spec"]["ports"]
        assert port["targetPort"] == container["ports"][0]["name"], name
        assert port["port"] == _port(container), name


@pytest.mark.parametrize("name", sorted(EXTERNAL))
def test_brokers_and_stores_are_external_services_named_by_the_settings(name: str) -> None:
    host_variable, port_field = EXTERNAL[name]
    service = _service(name)
    assert service["spec"]["type"] == "ExternalName"
    assert _config()[host_variable] == name
    (port,) = service["spec"]["ports"]
    assert port["port"] == int(_config()[f"SQUID_{port_field.upper()}"])


def test_workers_scale_up_to_the_events_partition_count() -> None:
    replicas = _workloads()["worker"]["spec"]["replicas"]
    assert 2 <= replicas <= int(_config()["SQUID_EVENTS_PARTITIONS"])


def test_worker_pods_keep_their_names_through_a_headless_service() -> None:
    worker = _workloads()["worker"]
    assert worker["kind"] == "StatefulSet"
    service = worker["spec"]["serviceName"]
    assert _service(service)["spec"]["clusterIP"] == "None"


def test_only_the_ingress_reaches_the_gateways_and_only_the_views_reach_workers() -> None:
    policies = {p["metadata"]["name"]: p["spec"] for p in _kind("NetworkPolicy")}
    assert policies["default-deny-ingress"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    (gateways,) = policies["gateways-from-ingress"]["ingress"]
    assert gateways["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress"}}}
    ]
    (workers,) = policies["workers-from-views"]["ingress"]
    assert workers["from"] == [
        {"podSelector": {"matchLabels": {"app.kubernetes.io/name": "views"}}}
    ]
