"""Where the local stack keeps its files: data/<server>, logs/<server>.log, run/<server>.pid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StackPaths:
    """The folder layout under `settings.data_dir`."""

    root: Path

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def lock_file(self) -> Path:
        return self.run / "stack.lock"

    def data(self, server: str) -> Path:
        return self.root / "data" / server

    def log(self, server: str) -> Path:
        return self.root / "logs" / f"{server}.log"

    def pid(self, server: str) -> Path:
        return self.run / f"{server}.pid"

    def create(self) -> None:
        """Make the top-level folders; servers make their own data folders."""
        for folder in (self.root, self.bin, self.downloads, self.run, self.root / "logs"):
            folder.mkdir(parents=True, exist_ok=True)
