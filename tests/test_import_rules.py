"""The package layers ([tool.importlinter] in pyproject.toml) hold, and breaking one fails."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from squidstream.settings import PROJECT_ROOT

# In a fresh interpreter: this one has imported our packages, and grimp would find those
# (sys.modules) instead of a copy's.
LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def _config() -> dict[str, Any]:
    config = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert isinstance(config, dict)
    return config


def _contract_names() -> dict[str, str]:
    return {contract["id"]: contract["name"] for contract in _config()["contracts"]}


def _lint(root: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports on the packages under `root`, with root's pyproject.toml."""
    # Wide lines: rich wraps a long contract name at the terminal width it assumes.
    env = {**os.environ, "PYTHONPATH": str(root), "COLUMNS": "300", "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-c", LINT],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _python_only(folder: str, names: list[str]) -> set[str]:
    """What copytree leaves out: everything but Python sources and the folders holding them."""
    return {
        name
        for name in names
        if name in {"__pycache__", "node_modules"}
        or ((Path(folder) / name).is_file() and not name.endswith(".py"))
    }


def _copy_of_the_packages(dest: Path) -> Path:
    for package in _config()["root_packages"]:
        shutil.copytree(PROJECT_ROOT / package, dest / package, ignore=_python_only)
    shutil.copy(PROJECT_ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_packages_keep_every_import_rule() -> None:
    result = _lint(PROJECT_ROOT)
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    assert f"Contracts: {len(_contract_names())} kept, 0 broken." in report
    for name in _contract_names().values():
        assert f"{name} KEPT" in report


@pytest.mark.parametrize(
    ("path", "offending", "contract"),
    [
        ("squidstream/settings.py", "gateways.rules", "layers"),
        ("streams/projection/decode.py", "views.models", "layers"),
        ("gateways/__init__.py", "squidshell.cli", "layers"),
        ("stack/paths.py", "loadtest.traffic", "layers"),
        ("loadtest/traffic.py", "gateways.rules", "loadtest-clients"),
        ("views/models.py", "squidstream.proto.game_pb2", "views-no-events"),
    ],
)
def test_one_offending_import_breaks_its_rule_and_the_check_names_it(
    tmp_path: Path, path: str, offending: str, contract: str
) -> None:
    root = _copy_of_the_packages(tmp_path)
    with (root / path).open("a", encoding="utf-8") as source:
        source.write(f"\nimport {offending}  # the offending import\n")
    result = _lint(root)
    report = result.stdout + result.stderr
    importer = path.removesuffix(".py").removesuffix("/__init__").replace("/", ".")
    assert result.returncode == 1, report
    assert f"{_contract_names()[contract]} BROKEN" in report
    assert f"{importer} -> {offending}" in report
