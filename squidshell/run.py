"""`squidstream run`: the main job, the whole pipeline on this machine under a Locust flood.

It brings the stack up, starts both gateways, the ingress, the Faust workers and the views as
child processes (each logging under the stack's `logs/` folder), waits until each answers,
prints what runs where and the dashboard URL, runs the flood, and keeps everything running until
Ctrl-C (or `--duration`), then stops all of it: children first, then the servers. A child that
exits on its own (a worker stops itself on a fatal error) is started again, up to RESTART_LIMIT
times. While it runs,
a status line every few seconds shows what the processes' `/metrics` say (see `StatusBoard`), and
Locust's HTML report lands next to the logs.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from squidstream import launcher
from squidstream.commands import console_argv
from squidstream.launcher import (
    Launched,
    LaunchError,
    Probe,
    http_ok,
    port_open,
    wait_ready,
)
from squidstream.settings import Settings, get_settings
from squidstream.tls import http_scheme
from squidstream.worker_pages import worker_tables_url

READY_TIMEOUT_S = 120.0
SCRAPE_TIMEOUT_S = 2.0
# A child that exits on its own is started again (a worker stops itself on a fatal error so
# that it is restarted), at most this many times: a crash loop stops the run, to be read.
RESTART_LIMIT = 5
# Locust writes its CSV and HTML reports on SIGTERM: give it time to.
FLOOD_GRACE_S = 60.0
STORES = ("sql", "redis", "mongo")


class RunError(RuntimeError):
    """A piece of the pipeline did not start."""


@dataclass
class Child:
    """One long-running process of the pipeline."""

    name: str
    argv: list[str]
    ready: Probe
    where: str
    env: dict[str, str] = field(default_factory=dict)
    process: Launched | None = None
    log_path: Path | None = None
    restarts: int = 0

    def start(self, log_dir: Path) -> None:
        self.log_path = log_dir / f"run-{self.name}.log"
        # Appended to: a restarted child's log follows the lines of the run that crashed.
        self.process = Launched(
            self.argv, name=self.name, env=self.env, log=self.log_path, append=True
        )

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def restart(self, code: int) -> None:
        """Start it again after it exited with `code`; RunError past RESTART_LIMIT."""
        if self.log_path is None:
            raise RunError(f"{self.name} was never started")
        if self.restarts >= RESTART_LIMIT:
            raise RunError(
                f"{self.name} exited with code {code} after {self.restarts} restarts; see"
                f" {self.log_path}"
            )
        self.restarts += 1
        print(
            f"\n{self.name} exited with code {code}; restarting it"
            f" ({self.restarts}/{RESTART_LIMIT}), log {self.log_path}",
            flush=True,
        )
        self.start(self.log_path.parent)


def stop_all(children: list[Child], grace_s: float = 15.0) -> None:
    """SIGTERM every child at once, then SIGKILL whatever is still up after the grace period."""
    started = [child.process for child in reversed(children) if child.process is not None]
    launcher.stop_all(started, grace_s)


@contextlib.contextmanager
def signals_ignored() -> Iterator[None]:
    """A second Ctrl-C or SIGTERM (make forwards one to its children) must not cut a shutdown
    short and orphan the children: ignore both until it is done."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _squid(*args: str) -> list[str]:
    return console_argv(*args)


def pipeline(
    settings: Settings,
    workers: int,
    weights: tuple[int, int],
    *,
    env: dict[str, str] | None = None,
    with_views: bool = True,
) -> list[Child]:
    """The child processes, in start order (stop order is the reverse).

    `env` (SQUID_* overrides) goes to every child; `settings` must already reflect it.
    """
    web_ports = [settings.faust_web_port + i for i in range(workers)]
    children = [
        Child(
            "gateway-kafka",
            _squid("gateway", "kafka"),
            port_open(settings.gateway_host, settings.gateway_kafka_port),
            f"grpc://{settings.kafka_gateway_target}",
        ),
        Child(
            "gateway-rabbitmq",
            _squid("gateway", "rabbitmq"),
            port_open(settings.gateway_host, settings.gateway_rabbitmq_port),
            f"grpc://{settings.rabbitmq_gateway_target}",
        ),
    ]
    children += [
        Child(
            f"worker-{i + 1}",
            _squid("worker"),
            port_open(settings.faust_web_host, port),
            worker_tables_url(settings.faust_web_host, port),
            env={"SQUID_FAUST_WEB_PORT": str(port)},
        )
        for i, port in enumerate(web_ports)
    ]
    ingress = f"{http_scheme(settings)}://{settings.ingress_host}:{settings.ingress_port}"
    views = f"{http_scheme(settings)}://{settings.views_host}:{settings.views_port}"
    children += [
        Child(
            "ingress",
            _squid("ingress"),
            port_open(settings.ingress_host, settings.ingress_port),
            f"{ingress}/docs",
            env={
                "SQUID_ROUTE_WEIGHT_KAFKA": str(weights[0]),
                "SQUID_ROUTE_WEIGHT_RABBITMQ": str(weights[1]),
            },
        ),
    ]
    if with_views:
        children.append(
            Child(
                "views",
                _squid("views"),
                http_ok(f"{views}/healthz"),
                f"{views}/  (dashboard)",
            )
        )
    for child in children:
        child.env = {**(env or {}), **child.env}
    return children


def _wait_ready(child: Child) -> None:
    if child.process is None:
        raise RunError(f"{child.name} was never started")
    wait_ready(child.process, child.ready, READY_TIMEOUT_S, poll_s=0.5)


@contextlib.contextmanager
def running(children: list[Child], log_dir: Path) -> Iterator[None]:
    """Start the children in order and wait for each; stop all of them however we leave."""
    try:
        for child in children:
            print(f"starting {child.name} ...", flush=True)
            child.start(log_dir)
            _wait_ready(child)
        yield
    finally:
        with signals_ignored():
            stop_all(children)


def _print_table(children: list[Child]) -> None:
    print("\nwhat runs where:")
    for child in children:
        pid = child.process.pid if child.process else "-"
        print(f"  {child.name:<18} pid {pid!s:<8} {child.where}   log {child.log_path}")


def _supervise(
    children: list[Child],
    flood: Launched | None,
    until: float,
    board: StatusBoard,
) -> None:
    """Wait for Ctrl-C or the deadline, printing status lines; restart a child that exits."""
    while time.monotonic() < until:
        board.tick()
        for child in children:
            code = child.exited()
            if code is not None:
                child.restart(code)
        if flood is not None and flood.poll() is not None:
            print(f"\nflood finished (exit {flood.returncode}); Ctrl-C stops the pipeline")
            flood = None
        time.sleep(1)


@dataclass(frozen=True, slots=True)
class Reading:
    """The pipeline's counters and gauges at one moment, summed over the processes."""

    at: float
    accepted: dict[str, float]  # per route, from the gateways
    projected: float  # from the workers
    dead_letters: float
    lag_records: float | None  # None: no worker answered
    lag_s: dict[str, float]  # per store, from the views


def scrape(url: str) -> list[tuple[str, dict[str, str], float]]:
    """Every sample of one `/metrics` page; none if the process does not answer now."""
    try:
        with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as response:
            text = response.read().decode("utf-8")
    except (OSError, ValueError):
        return []
    return [
        (sample.name, sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def reading(samples: Iterable[tuple[str, dict[str, str], float]], at: float) -> Reading:
    """The status board's numbers out of every process's samples."""
    accepted: dict[str, float] = {}
    lag_s: dict[str, float] = {}
    projected = dead = 0.0
    lag_records: float | None = None
    for name, labels, value in samples:
        if name == "squid_gateway_accepted_events_total":
            route = labels.get("route", "?")
            accepted[route] = accepted.get(route, 0.0) + value
        elif name == "squid_projected_events_total":
            projected += value
        elif name == "squid_dead_letters_total":
            dead += value
        elif name == "squid_consumer_lag_records":
            lag_records = (lag_records or 0.0) + value
        elif name == "squid_views_projection_lag_seconds":
            lag_s[labels.get("store", "?")] = value
    return Reading(at, accepted, projected, dead, lag_records, lag_s)


def _rate(now: float, before: float, seconds: float) -> float:
    # A restarted process starts its counters at 0 again: count that as no progress.
    return max(0.0, now - before) / seconds if seconds > 0 else 0.0


def store_lag(now: Reading) -> dict[str, float]:
    """Seconds each store trails the events topic.

    The views report the age of each store's newest data, which keeps growing once the flood
    stops. With no record waiting, no store is behind (a batch is acknowledged only once every
    store holds it), so the lag is 0; while records wait, the age is the store's lag.
    """
    if now.lag_records == 0:
        return dict.fromkeys(now.lag_s, 0.0)
    return now.lag_s


def status_line(before: Reading, now: Reading, started: float) -> str:
    """One line: accepted/s per route, projected/s, lag per store, dead letters."""
    seconds = now.at - before.at
    routes = " ".join(
        f"{route} {_rate(total, before.accepted.get(route, 0.0), seconds):,.0f}"
        for route, total in sorted(now.accepted.items())
    )
    lags = store_lag(now)
    lag = " ".join(f"{store} {lags[store]:.1f}s" for store in STORES if store in lags)
    records = "-" if now.lag_records is None else f"{now.lag_records:,.0f}"
    return (
        f"[{now.at - started:5.0f}s] accepted/s {routes or '-'} | "
        f"projected/s {_rate(now.projected, before.projected, seconds):,.0f} | "
        f"lag {lag or '-'} ({records} records) | "
        f"dead letters {now.dead_letters:,.0f}"
    )


class StatusBoard:
    """Prints a status line every `interval_s`, from the `/metrics` of every process."""

    def __init__(self, urls: list[str], interval_s: float) -> None:
        self._urls = urls
        self._interval_s = interval_s
        self._started = time.monotonic()
        self._last: Reading | None = None

    def _read(self) -> Reading:
        samples = [sample for url in self._urls for sample in scrape(url)]
        return reading(samples, time.monotonic())

    def tick(self) -> None:
        """Print a line if the interval has passed since the last one."""
        if self._interval_s <= 0:
            return
        if self._last is None:  # the first reading starts the clock and the rates
            self._last = self._read()
            self._started = self._last.at
            return
        if time.monotonic() - self._last.at < self._interval_s:
            return
        now = self._read()
        print(status_line(self._last, now, self._started), flush=True)
        self._last = now


def metrics_urls(settings: Settings, workers: int, with_views: bool = True) -> list[str]:
    """The `/metrics` page of every process that `pipeline` starts (the ingress's is not read)."""
    host = settings.gateway_host
    urls = [
        f"http://{host}:{settings.gateway_kafka_metrics_port}/metrics",
        f"http://{host}:{settings.gateway_rabbitmq_metrics_port}/metrics",
    ]
    urls += [
        f"http://{settings.faust_web_host}:{settings.faust_web_port + i}/metrics"
        for i in range(workers)
    ]
    if with_views:
        urls.append(
            f"{http_scheme(settings)}://{settings.views_host}:{settings.views_port}/metrics"
        )
    return urls


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    # `kill` (SIGTERM) stops the pipeline as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    settings = get_settings()
    log_dir = settings.data_dir / "logs"
    if subprocess.call(_squid("stack", "up")) != 0:
        return 1
    log_dir.mkdir(parents=True, exist_ok=True)
    children = pipeline(settings, args.workers, (args.kafka_weight, args.rabbitmq_weight))
    urls = metrics_urls(settings, args.workers)
    board = StatusBoard(urls, args.status_every)
    flood: Launched | None = None
    try:
        with running(children, log_dir):
            _print_table(children)
            scheme = http_scheme(settings)
            print(f"\ndashboard: {scheme}://{settings.views_host}:{settings.views_port}/")
            ingress = f"{scheme}://{settings.ingress_host}:{settings.ingress_port}/metrics"
            print("metrics (Prometheus, docs/metrics.md):", *urls, ingress, sep="\n  ")
            print(flush=True)
            if args.flood_time != "0":
                # Its own group: `flood` runs locust as a child, and both must stop with us.
                flood = Launched(_squid(*_flood_args(args, settings, log_dir)), name="flood")
                print(f"Locust's report, at the end of the flood: {log_dir}/run-flood.html")
            until = time.monotonic() + (args.duration or float("inf"))
            _supervise(children, flood, until, board)
    except (RunError, LaunchError) as exc:
        print(f"squidstream run: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping ...", flush=True)
    finally:
        with signals_ignored():
            if flood is not None:
                flood.stop(FLOOD_GRACE_S)
            if not args.keep_stack:
                subprocess.call(_squid("stack", "down"))
    return 0


def _flood_args(args: argparse.Namespace, settings: Settings, log_dir: Path) -> list[str]:
    return [
        "flood",
        "--csv-prefix",
        str(log_dir / "run-flood"),
        "--html",
        str(log_dir / "run-flood.html"),
        "--host",
        f"{http_scheme(settings)}://{settings.ingress_host}:{settings.ingress_port}",
        "--users",
        str(args.users),
        "--spawn-rate",
        str(args.spawn_rate),
        "--run-time",
        args.flood_time,
        "--kafka-weight",
        str(args.kafka_weight),
        "--rabbitmq-weight",
        str(args.rabbitmq_weight),
    ]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `run` subcommand."""
    parser = subparsers.add_parser(
        "run", help="the main job: the whole pipeline under a Locust flood, with the dashboard"
    )
    parser.add_argument("--workers", type=int, default=2, help="Faust worker processes")
    parser.add_argument("--users", type=int, default=50, help="Locust users")
    parser.add_argument("--spawn-rate", type=float, default=10, help="Locust users started per s")
    parser.add_argument("--flood-time", default="5m", help="Locust run time (0: no flood)")
    parser.add_argument("--kafka-weight", type=int, default=50)
    parser.add_argument("--rabbitmq-weight", type=int, default=50)
    parser.add_argument("--duration", type=float, default=0, help="stop after S s (0: Ctrl-C)")
    parser.add_argument(
        "--status-every", type=float, default=5.0, help="seconds between status lines (0: none)"
    )
    parser.add_argument("--keep-stack", action="store_true", help="leave the servers running")
    parser.set_defaults(func=run)
