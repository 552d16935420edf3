"""Install missing Debian packages and locate the tools the stack needs (java, mvn, go)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from stack.errors import StackError

Report = Callable[[str], None]

# Root's PATH may lack the sbin folders when we run from CI or an IDE.
_EXTRA_DIRS = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
_POLICY_RC = Path("/usr/sbin/policy-rc.d")


def find_binary(name: str) -> str | None:
    """Absolute path of an executable found on PATH or in the usual system folders."""
    found = shutil.which(name)
    if found:
        return found
    for folder in _EXTRA_DIRS:
        candidate = Path(folder) / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return None


def require_binary(name: str, package: str) -> str:
    """The binary's path, or a StackError telling how to get it."""
    found = find_binary(name)
    if found is None:
        raise StackError(f"`{name}` not found; install the Debian package {package}")
    return found


def ensure_packages(wanted: dict[str, str], report: Report) -> None:
    """apt-get install the packages (values) whose binaries (keys) are missing."""
    missing = sorted({pkg for binary, pkg in wanted.items() if find_binary(binary) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise StackError(f"need root to install {' '.join(missing)} (or install them yourself)")
    report(f"installing Debian packages: {' '.join(missing)} (apt-get update first)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with _no_service_starts():
        _run_apt(["apt-get", "update"], env)
        _run_apt(["apt-get", "install", "-y", "--no-install-recommends", *missing], env)
    still = [binary for binary in wanted if find_binary(binary) is None]
    if still:
        raise StackError(f"installed {' '.join(missing)} but still cannot find {', '.join(still)}")


def _run_apt(argv: list[str], env: dict[str, str]) -> None:
    # Output goes straight to our terminal: apt's own progress is the visible progress.
    try:
        subprocess.run(argv, env=env, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise StackError(f"`{' '.join(argv)}` failed: {exc}") from exc


@contextmanager
def _no_service_starts() -> Iterator[None]:
    """Keep package scripts from starting the system's own copies on our ports."""
    if _POLICY_RC.exists():
        yield
        return
    _POLICY_RC.write_text("#!/bin/sh\nexit 101\n", encoding="ascii")
    _POLICY_RC.chmod(0o755)
    try:
        yield
    finally:
        _POLICY_RC.unlink(missing_ok=True)
