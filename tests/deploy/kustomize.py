"""kustomize, built once from the Go module proxy into build/bin (git-ignored) when missing."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from squidstream.settings import PROJECT_ROOT

MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
VERSION = "v5.6.0"
BIN = PROJECT_ROOT / "build" / "bin" / "kustomize"
# A first build downloads about 30 modules and compiles for about 80 s on 2 cores.
BUILD_TIMEOUT_S = 900


class KustomizeUnavailable(RuntimeError):
    """No kustomize binary, and no Go toolchain to build one."""


def _built_version(binary: Path) -> str | None:
    go = shutil.which("go")
    if go is None or not binary.exists():
        return None
    done = subprocess.run(
        [go, "version", "-m", str(binary)], capture_output=True, text=True, check=False
    )
    for line in done.stdout.splitlines():
        fields = line.split()
        if fields[:2] == ["mod", MODULE]:
            return fields[2]
    return None


def kustomize() -> Path:
    """The pinned kustomize, built with `go install` when missing or of another version."""
    if _built_version(BIN) == VERSION:
        return BIN
    go = shutil.which("go")
    if go is None:
        raise KustomizeUnavailable("go is not installed: cannot build kustomize")
    env = {**os.environ, "GOBIN": str(BIN.parent), "GOFLAGS": "-mod=mod"}
    done = subprocess.run(
        [go, "install", f"{MODULE}@{VERSION}"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=BUILD_TIMEOUT_S,
    )
    # A failed build is a failure, not a skip: the Go module proxy is reachable from our machines.
    assert done.returncode == 0, f"go install {MODULE}@{VERSION} failed:\n{done.stderr[-2000:]}"
    return BIN


def build(folder: Path) -> str:
    """`kustomize build FOLDER` as YAML text."""
    done = subprocess.run(
        [str(kustomize()), "build", str(folder)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
