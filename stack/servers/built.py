"""Servers that run a binary the stack builds into bin/ from sources beside the Python code."""

from __future__ import annotations

import time
from abc import abstractmethod
from pathlib import Path
from typing import ClassVar

from stack.servers.base import Report, Server


class BuiltServer(Server):
    """Builds bin/`binary_name` when `needs_build`, reporting the start and how long it took."""

    binary_name: ClassVar[str]

    @property
    def binary(self) -> Path:
        return self.paths.bin / self.binary_name

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        if self.needs_build():
            self.build(report)

    def needs_build(self) -> bool:
        return not self.binary.exists()

    def build(self, report: Report) -> None:
        """Build the binary, whether or not one is there already."""
        command = self.build_command()
        report(f"{self.name}: building {self.build_notice()}")
        started = time.monotonic()
        self.run_build(command)
        report(f"{self.name}: built {self.binary} in {time.monotonic() - started:.0f}s")

    @abstractmethod
    def build_command(self) -> list[str]:
        """The build's argv; raises ServerError when its toolchain is missing."""

    @abstractmethod
    def build_notice(self) -> str:
        """What is built with what, and how long a first build takes."""

    @abstractmethod
    def run_build(self, command: list[str]) -> None:
        """Run the command; raises ServerError unless it leaves `binary` in place."""
