"""pyproject.toml's floors match what the generated code needs; constraints.txt is the venv."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from squidstream.settings import PROJECT_ROOT

CONSTRAINTS = PROJECT_ROOT / "constraints.txt"
# Tools of a person or a benchmark, not of a running service.
NOT_RUNTIME = {"locust", "pyinstrument", "pyyaml", "matplotlib", "pip-audit"}
# Installed by the venv itself, never pinned.
UNPINNED = {"pip", "setuptools", "wheel", "squidstream"}


def _project() -> dict[str, Any]:
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    assert isinstance(project, dict)
    return project


def _runtime() -> dict[str, Requirement]:
    requirements = (Requirement(text) for text in _project()["dependencies"])
    return {canonicalize_name(r.name): r for r in requirements}


def _floor(requirement: Requirement) -> Version:
    floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
    assert floors, f"{requirement} has no floor"
    return max(floors)


def _generated_protobuf_version() -> Version:
    text = (PROJECT_ROOT / "squidstream" / "proto" / "game_pb2.py").read_text()
    match = re.search(
        r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,\s*"
        r"(\d+),\s*(\d+),\s*(\d+),",
        text,
    )
    assert match, "squidstream/proto/game_pb2.py has no runtime version guard"
    return Version(".".join(match.groups()))


def _generated_grpc_version() -> Version:
    text = (PROJECT_ROOT / "squidstream" / "proto" / "game_pb2_grpc.py").read_text()
    match = re.search(r"^GRPC_GENERATED_VERSION = '([^']+)'", text, flags=re.MULTILINE)
    assert match, "squidstream/proto/game_pb2_grpc.py has no GRPC_GENERATED_VERSION"
    return Version(match.group(1))


def test_protobuf_floor_is_the_runtime_the_generated_module_demands() -> None:
    assert _floor(_runtime()["protobuf"]) == _generated_protobuf_version()


@pytest.mark.parametrize("name", ["grpcio", "grpcio-health-checking", "grpcio-reflection"])
def test_grpc_floors_are_the_version_the_generated_stubs_demand(name: str) -> None:
    assert _floor(_runtime()[name]) == _generated_grpc_version()


def test_code_generator_is_at_least_the_version_that_wrote_the_stubs() -> None:
    dev: dict[str, Requirement] = {
        canonicalize_name(Requirement(t).name): Requirement(t)
        for t in _project()["optional-dependencies"]["dev"]
    }
    assert _floor(dev["grpcio-tools"]) >= _generated_grpc_version()


def test_load_test_and_profiling_tools_are_extras_not_runtime() -> None:
    assert not NOT_RUNTIME & set(_runtime())
    extras = _project()["optional-dependencies"]
    assert [Requirement(t).name for t in extras["load"]] == ["locust"]
    assert [Requirement(t).name for t in extras["profile"]] == ["pyinstrument"]
    assert [Requirement(t).name for t in extras["bench"]] == ["matplotlib"]
    dev = {canonicalize_name(Requirement(t).name) for t in extras["dev"]}
    assert {"pyyaml", "pip-audit"} <= dev


def _pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in CONSTRAINTS.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"constraints.txt: {line!r} is not name==version"
            pins[canonicalize_name(name)] = version
    return pins


def _installed() -> dict[str, str]:
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions()
        if canonicalize_name(dist.metadata["Name"]) not in UNPINNED
    }


def test_constraints_pin_exactly_the_versions_installed_in_this_venv() -> None:
    pins, installed = _pins(), _installed()
    assert {n: v for n, v in installed.items() if pins.get(n) != v} == {}, (
        "installed packages differ from constraints.txt: regenerate it (see its header)"
    )
    assert set(pins) - set(installed) == set(), "constraints.txt pins packages not installed"


def test_venv_install_and_image_both_use_the_constraints() -> None:
    makefile = (PROJECT_ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*-c constraints\.txt", makefile)
    assert re.search(
        r"^RUN pip install .*-c constraints\.txt", (PROJECT_ROOT / "Dockerfile").read_text(), re.M
    )
