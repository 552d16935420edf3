"""Projection drain: `squidstream bench streams` run as a subprocess, its printed rates parsed.

The streams package owns that benchmark; parsing its output keeps one implementation. Every
line of the form `<consumer>: <n> events/s` becomes one rate, so a consumer it adds later
(a Faust agent that only counts, say) shows up in the report without a change here.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field

from loadtest.processes import ROOT
from squidstream.commands import console_argv

RATE_LINE = re.compile(r"^[ \t]*(?P<name>[^:\n]+?):\s+(?P<rate>[\d,]+(?:\.\d+)?) events/s", re.M)
STORE_LINE = re.compile(r"^(?P<store>\w+) alone\b")


class DrainError(RuntimeError):
    """`bench streams` failed or printed no rates."""


@dataclass(frozen=True, slots=True)
class Drain:
    events: int
    rates: dict[str, float]  # consumer as printed -> events/s
    stores: dict[str, float] = field(default_factory=dict)  # store alone -> events/s

    @property
    def ours(self) -> float | None:
        return next((r for name, r in self.rates.items() if name.startswith("our worker")), None)

    @property
    def slowest_store(self) -> tuple[str, float] | None:
        if not self.stores:
            return None
        return min(self.stores.items(), key=lambda kv: kv[1])


def parse_drain(output: str, events: int) -> Drain:
    rates: dict[str, float] = {}
    stores: dict[str, float] = {}
    for matched in RATE_LINE.finditer(output):
        name, value = matched["name"].strip(), float(matched["rate"].replace(",", ""))
        if store := STORE_LINE.match(name):
            stores[store["store"].lower()] = value
        else:
            rates[name] = value
    if not rates:
        raise DrainError(f"no `...: N events/s` lines in:\n{output[-3000:]}")
    return Drain(events=events, rates=rates, stores=stores)


def run_drain(
    events: int,
    naive_sample: int,
    workers: int,
    env: dict[str, str],
    timeout_s: float,
    on_start: Callable[[str, int], None],
) -> Drain:
    argv = console_argv("bench", "streams")
    argv += ["--events", str(events), "--naive-sample", str(naive_sample)]
    argv += ["--workers", str(workers)]
    with subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        on_start("bench-streams (and its worker)", process.pid)
        try:
            stdout, stderr = process.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
            raise DrainError(
                f"bench streams ran over {timeout_s:.0f}s:\n{stdout[-2000:]}"
            ) from None
    if process.returncode not in (0, 1):  # 1 means "goals missed": the numbers are still good
        raise DrainError(f"bench streams exited {process.returncode}:\n{(stdout + stderr)[-3000:]}")
    return parse_drain(stdout, events)
