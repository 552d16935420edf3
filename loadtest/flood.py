"""`squidstream flood`: Locust, headless, as a subprocess; Locust's CSV stats are kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import SecretStr

from squidstream.percentiles import histogram_percentile

LOCUSTFILE: Final = Path(__file__).resolve().parent / "locustfile.py"
USER_CLASSES: Final = {"http": "IngressUser", "grpc": "GatewayUser"}


@dataclass(frozen=True, slots=True)
class FloodOptions:
    """Everything one flood run needs."""

    users: int
    spawn_rate: float
    run_time: str
    kafka_weight: int
    rabbitmq_weight: int
    csv_prefix: Path
    host: str
    user: str = "http"
    traffic_file: Path | None = None
    grpc_batch: int = 100
    gateway_kafka: str = "127.0.0.1:50051"
    gateway_rabbitmq: str = "127.0.0.1:50052"
    html_report: Path | None = None
    # The write token for the ingress and the gateways; None: Locust reads SQUID_WRITE_TOKEN
    # from the environment it inherits. Passed in the environment, never on the command line
    # (which every local user can read in `ps`).
    write_token: SecretStr | None = None


@dataclass(frozen=True, slots=True)
class FloodTotals:
    """The aggregated row of Locust's `<prefix>_stats.csv`."""

    requests: int
    failures: int
    requests_per_s: float
    median_ms: float
    p99_ms: float


def locust_command(options: FloodOptions) -> list[str]:
    """The `locust --headless ...` command line of a flood."""
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(options.users),
        "--spawn-rate",
        str(options.spawn_rate),
        "--run-time",
        options.run_time,
        "--host",
        options.host,
        "--csv",
        str(options.csv_prefix),
        "--json-file",
        f"{options.csv_prefix}_final",
        "--only-summary",
        "--stop-timeout",
        "15",
        "--kafka-weight",
        str(options.kafka_weight),
        "--rabbitmq-weight",
        str(options.rabbitmq_weight),
        "--grpc-batch",
        str(options.grpc_batch),
        "--gateway-kafka",
        options.gateway_kafka,
        "--gateway-rabbitmq",
        options.gateway_rabbitmq,
    ]
    if options.traffic_file is not None:
        command += ["--traffic-file", str(options.traffic_file)]
    if options.html_report is not None:
        command += ["--html", str(options.html_report)]
    return [*command, USER_CLASSES[options.user]]


def run_flood(options: FloodOptions) -> int:
    """Run Locust to the end; its exit code (1 when any request failed)."""
    options.csv_prefix.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.run(locust_command(options), env=locust_env(options), check=False).returncode


def locust_env(options: FloodOptions) -> dict[str, str]:
    """This process's environment, with the flood's write token if it names one."""
    env = dict(os.environ)
    if options.write_token is not None:
        env["SQUID_WRITE_TOKEN"] = options.write_token.get_secret_value()
    return env


def _percentile_ms(histogram: dict[float, int], q: float) -> float:
    """A percentile from Locust's {rounded ms: count} histogram; 0 when nothing was timed."""
    return histogram_percentile(histogram, q) if any(histogram.values()) else 0.0


def _totals(entries: list[dict[str, Any]]) -> FloodTotals:
    histogram: dict[float, int] = {}
    for entry in entries:
        for ms, count in entry["response_times"].items():
            histogram[float(ms)] = histogram.get(float(ms), 0) + count
    requests = sum(int(entry["num_requests"]) for entry in entries)
    started = min(float(entry["start_time"]) for entry in entries)
    ended = max(float(entry["last_request_timestamp"] or started) for entry in entries)
    return FloodTotals(
        requests=requests,
        failures=sum(int(entry["num_failures"]) for entry in entries),
        requests_per_s=requests / (ended - started) if ended > started else 0.0,
        median_ms=_percentile_ms(histogram, 50),
        p99_ms=_percentile_ms(histogram, 99),
    )


def read_stats(csv_prefix: Path) -> dict[str, FloodTotals]:
    """Final totals by request name, plus "Aggregated", from `<prefix>_final.json`.

    Locust rewrites its CSV files once a second while running and not again at exit, so the
    CSV can miss the last second; the JSON file is written after the last user stopped.
    """
    entries: list[dict[str, Any]] = json.loads(
        Path(f"{csv_prefix}_final.json").read_text(encoding="utf-8")
    )
    if not entries:
        raise ValueError(f"no requests recorded in {csv_prefix}_final.json")
    by_name = {entry["name"]: _totals([entry]) for entry in entries}
    return {**by_name, "Aggregated": _totals(entries)}


def read_totals(csv_prefix: Path) -> FloodTotals:
    """The totals over every request of a finished flood."""
    return read_stats(csv_prefix)["Aggregated"]
