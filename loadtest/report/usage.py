"""CPU and resident memory of every process of the stack, sampled while a benchmark runs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_S = 0.5


@dataclass(frozen=True, slots=True)
class ProcessUsage:
    """One process (with its children, e.g. RabbitMQ's Erlang VM) over one section."""

    name: str
    section: str
    samples: int
    cpu_mean_pct: float
    cpu_max_pct: float
    rss_max_mib: float


def server_pids(run_dir: Path) -> dict[str, int]:
    """The stack's servers by name from their pid files (mariadb writes two: one process)."""
    found: dict[int, str] = {}
    for pid_file in sorted(run_dir.glob("*.pid")):
        pid = _read_pid(pid_file)
        if pid is not None:
            found.setdefault(pid, pid_file.stem)
    return {name: pid for pid, name in found.items() if psutil.pid_exists(pid)}


def _read_pid(pid_file: Path) -> int | None:
    # The stack writes {"pid": N, ...}; some servers write their own file with a bare number.
    try:
        text = pid_file.read_text(encoding="ascii").strip()
        pid = json.loads(text)["pid"] if text.startswith("{") else int(text)
        return int(pid)
    except (OSError, ValueError, KeyError, TypeError):
        return None


class _Tracked:
    def __init__(self, name: str, process: psutil.Process) -> None:
        self.name = name
        self.process = process
        self.cpu: list[float] = []
        self.rss: list[float] = []
        self._known: dict[int, psutil.Process] = {}

    def _family(self) -> list[psutil.Process]:
        try:
            family = [self.process, *self.process.children(recursive=True)]
        except psutil.Error:
            return []
        # Keep one Process object per pid: cpu_percent() measures since that object's last call.
        return [self._known.setdefault(p.pid, p) for p in family]

    def sample(self, first: bool) -> None:
        cpu = rss = 0.0
        for member in self._family():
            try:
                cpu += member.cpu_percent(None)
                rss += member.memory_info().rss
            except psutil.Error:
                continue
        if not first:  # the first cpu_percent() of a process is always 0: a baseline only
            self.cpu.append(cpu)
            self.rss.append(rss / 2**20)


class UsageSampler:
    """Samples named processes from a thread, so a busy event loop does not skew the cadence."""

    def __init__(self, processes: dict[str, int]) -> None:
        self._tracked = [
            _Tracked(name, psutil.Process(pid))
            for name, pid in processes.items()
            if psutil.pid_exists(pid)
        ]
        self._stop = threading.Event()

    def add(self, name: str, pid: int) -> None:
        if psutil.pid_exists(pid):
            self._tracked.append(_Tracked(name, psutil.Process(pid)))

    def _run(self) -> None:
        first = True
        while True:
            for tracked in list(self._tracked):
                tracked.sample(first)
            first = False
            if self._stop.wait(SAMPLE_S):
                return

    @contextmanager
    def running(self) -> Iterator[UsageSampler]:
        thread = threading.Thread(target=self._run, name="usage-sampler", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=5)

    def results(self, section: str) -> list[ProcessUsage]:
        return [
            ProcessUsage(
                name=t.name,
                section=section,
                samples=len(t.cpu),
                cpu_mean_pct=round(sum(t.cpu) / len(t.cpu), 1),
                cpu_max_pct=round(max(t.cpu), 1),
                rss_max_mib=round(max(t.rss), 1),
            )
            for t in self._tracked
            if t.cpu
        ]
