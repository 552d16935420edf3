"""Servers built into bin/: when they build, what they report, what a failure leaves."""

from __future__ import annotations

from pathlib import Path

import pytest

from squidstream.settings import Settings
from stack.errors import ServerError
from stack.paths import StackPaths
from stack.servers.built import BuiltServer


class Toy(BuiltServer):
    """A server whose `build` writes a shell script, or fails when asked to."""

    name = "toy"
    port_field = "redis_port"
    binary_name = "toy-server"
    fail = False

    @property
    def marker(self) -> str:
        return str(self.binary)

    def argv(self) -> list[str]:
        return [str(self.binary)]

    async def check(self) -> None:
        return None

    def build_command(self) -> list[str]:
        return ["write", str(self.binary)]

    def build_notice(self) -> str:
        return "a toy"

    def run_build(self, command: list[str]) -> None:
        if self.fail:
            raise ServerError(self.name, f"{command[0]} failed")
        self.binary.parent.mkdir(parents=True, exist_ok=True)
        self.binary.write_text("#!/bin/sh\n", encoding="ascii")


def _toy(tmp_path: Path) -> Toy:
    return Toy(Settings(), StackPaths(tmp_path))


def test_prepare_builds_a_missing_binary_and_says_how_long_it_took(tmp_path: Path) -> None:
    server = _toy(tmp_path)
    messages: list[str] = []
    server.prepare(messages.append)
    assert server.binary == tmp_path / "bin" / "toy-server"
    assert server.binary.is_file()
    assert messages[0] == "toy: building a toy"
    assert messages[1].startswith(f"toy: built {server.binary} in ")
    assert server.data_dir.is_dir()


def test_prepare_leaves_a_binary_that_is_there_alone(tmp_path: Path) -> None:
    server = _toy(tmp_path)
    server.prepare(lambda _: None)
    messages: list[str] = []
    server.prepare(messages.append)
    assert messages == []


def test_a_failed_build_raises_after_saying_it_started(tmp_path: Path) -> None:
    server = _toy(tmp_path)
    server.fail = True
    messages: list[str] = []
    with pytest.raises(ServerError, match="toy: write failed"):
        server.prepare(messages.append)
    assert messages == ["toy: building a toy"]
    assert not server.binary.exists()
