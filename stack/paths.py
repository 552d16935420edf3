"""Where the local stack keeps its files: data/<server>, logs/<server>.log, run/<server>.pid."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


class UnderRoot:
    """A fixed path below StackPaths.root, declared by its parts (the layout reads as data)."""

    def __init__(self, *parts: str) -> None:
        self.parts = parts

    def __get__(self, paths: StackPaths, owner: type[StackPaths]) -> Path:
        return paths.root.joinpath(*self.parts)


@dataclass(frozen=True)
class StackPaths:
    """The folder layout under `settings.data_dir`."""

    root: Path

    bin = UnderRoot("bin")
    downloads = UnderRoot("downloads")
    logs = UnderRoot("logs")
    run = UnderRoot("run")
    lock_file = UnderRoot("run", "stack.lock")

    def data(self, server: str) -> Path:
        return self.root / "data" / server

    def log(self, server: str) -> Path:
        return self.logs / f"{server}.log"

    def pid(self, server: str) -> Path:
        return self.run / f"{server}.pid"

    def create(self) -> None:
        """Make the top-level folders; servers make their own data folders."""
        for folder in (self.root, self.bin, self.downloads, self.run, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
