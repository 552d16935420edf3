"""Checks that keep a deployment file true to the code: commands, settings, pinned versions."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable
from functools import cache
from pathlib import Path

from squidshell.cli import build_parser
from squidstream.settings import PROJECT_ROOT, Settings

SQUID_NAME = re.compile(r"\b(SQUID_[A-Z0-9_]+)\b")


def command_problem(argv: list[str]) -> str | None:
    """Why `squidstream ARGV` would not run one of our subcommands, or None when it would."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        return f"squidstream {' '.join(argv)}: not a valid command line"
    if not callable(getattr(args, "func", None)):
        return f"squidstream {' '.join(argv)}: no handler"
    return None


def setting_names() -> set[str]:
    """Every SQUID_* variable that squidstream/settings.py declares."""
    return {f"SQUID_{field.upper()}" for field in Settings.model_fields}


def unknown_settings(names: Iterable[str]) -> set[str]:
    """The SQUID_* names among these that no setting declares."""
    return {name for name in names if name.startswith("SQUID_")} - setting_names()


def squid_names_in(text: str) -> set[str]:
    """Every SQUID_* name written in a file's text."""
    return set(SQUID_NAME.findall(text))


def _pinned(path: str, pattern: str, missing: str) -> str:
    """The first group of `pattern` (multi-line) in a file of the repository."""
    match = re.search(pattern, (PROJECT_ROOT / path).read_text(), re.M)
    assert match, f"{path} {missing}"
    return match.group(1)


@cache
def kafka_version() -> str:
    """The Kafka release the local stack (and so every test) runs: stack/kafka/pom.xml."""
    return _pinned(
        "stack/kafka/pom.xml", r"<kafka\.version>([^<]+)</kafka\.version>", "names no kafka.version"
    )


@cache
def tidb_version() -> str:
    """The TiDB release stack/tidb/build.sh builds."""
    return _pinned("stack/tidb/build.sh", r'^TIDB_RELEASE="([^"]+)"', "names no TIDB_RELEASE")


@cache
def ferretdb_version() -> str:
    """The FerretDB release stack/ferretdb/ embeds (its go.mod, without the v)."""
    return _pinned(
        "stack/ferretdb/go.mod", r"github\.com/FerretDB/FerretDB v(\S+)", "requires no FerretDB"
    )


def debian_version(package: str) -> str | None:
    """The upstream version of an installed Debian package ("5:7.0.15-1~deb12u10" -> "7.0.15")."""
    if shutil.which("dpkg-query") is None:
        return None
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not done.stdout:
        return None
    return re.sub(r"^\d+:", "", done.stdout).split("-")[0]


def relative(path: Path) -> str:
    return str(path.relative_to(PROJECT_ROOT))
