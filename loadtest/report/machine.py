"""The machine a report was measured on, and the versions of every server and library."""

from __future__ import annotations

import asyncio
import importlib.metadata
import ipaddress
import os
import platform
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

import aio_pika
import psutil
import redis.asyncio as aioredis
from pymongo import AsyncMongoClient

from loadtest.processes import ROOT
from loadtest.report.pipeline import sql_server_cursor
from squidstream.settings import Settings

LIBRARIES = (
    "faust-streaming",
    "aiokafka",
    "aio-pika",
    "redis",
    "aiomysql",
    "pymongo",
    "grpcio",
    "protobuf",
    "fastapi",
    "uvicorn",
    "matplotlib",
    "psutil",
)
KAFKA_JAR = re.compile(r"kafka_[\d.]+-(?P<version>[\d.]+)\.jar$")


class NotLoopback(ValueError):
    """A setting points at another machine: the report benchmarks the local stack only."""


@dataclass(frozen=True, slots=True)
class Machine:
    cores: int
    memory_gib: float
    os: str
    python: str
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    servers: dict[str, str] = field(default_factory=dict)
    libraries: dict[str, str] = field(default_factory=dict)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback(settings: Settings) -> None:
    """Refuse to run unless every server and process the report touches is on this machine."""
    hosts = {
        name: str(getattr(settings, name))
        for name in type(settings).model_fields
        if name.endswith("_host")
    }
    remote = sorted(f"{name}={host}" for name, host in hosts.items() if not _is_loopback(host))
    if remote:
        raise NotLoopback(
            "not loopback, the report measures the local stack only: " + ", ".join(remote)
        )


def load_average() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


def describe_machine() -> Machine:
    return Machine(
        cores=psutil.cpu_count(logical=True) or 0,
        memory_gib=round(psutil.virtual_memory().total / 2**30, 1),
        os=f"{platform.system()} {platform.release()} ({_debian()})",
        python=platform.python_version(),
        load_before=load_average(),
        libraries=library_versions(),
    )


def _debian() -> str:
    try:
        return "Debian " + open("/etc/debian_version", encoding="ascii").read().strip()
    except OSError:
        return platform.platform()


def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


async def server_versions(settings: Settings) -> dict[str, str]:
    """Each server's own answer where it gives one; a failure is recorded, not raised."""
    probes = {
        "redis": _redis(settings),
        "sql": _sql(settings),
        "mongo": _mongo(settings),
        "rabbitmq": _rabbitmq(settings),
    }
    answers = await asyncio.gather(*probes.values(), return_exceptions=True)
    versions = {
        name: answer if isinstance(answer, str) else f"unknown ({answer!r})"
        for name, answer in zip(probes, answers, strict=True)
    }
    versions["kafka"] = _kafka(settings)
    versions["java"] = _java()
    return versions


async def _redis(settings: Settings) -> str:
    client = aioredis.Redis(host=settings.redis_host, port=settings.redis_port)
    try:
        info: dict[str, Any] = await client.info("server")
        return f"Redis {info['redis_version']}"
    finally:
        await client.aclose()


async def _sql(settings: Settings) -> str:
    async with sql_server_cursor(settings) as cur:
        await cur.execute("SELECT VERSION()")
        (version,) = await cur.fetchone()
        return f"{settings.sql_server} {version}"


async def _mongo(settings: Settings) -> str:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongo_url, serverSelectionTimeoutMS=3000
    )
    try:
        info = await client.admin.command("buildInfo")
        ferret = info.get("ferretdbVersion")
        if ferret in (None, "unknown"):
            # Our embedding program carries no version file; its go.mod names the module.
            ferret = _go_module_version("github.com/FerretDB/FerretDB") or ferret
        wire = f"MongoDB wire {info.get('version')}"
        return f"FerretDB {ferret} ({wire})" if ferret else wire
    finally:
        await client.close()


async def _rabbitmq(settings: Settings) -> str:
    connection = await aio_pika.connect(settings.rabbitmq_url)
    async with connection:
        transport = connection.transport
        properties = {} if transport is None else transport.connection.server_properties
        version = properties.get("version", "?")
        text = version.decode() if isinstance(version, bytes) else str(version)
        return f"RabbitMQ {text}"


def _go_module_version(module: str) -> str | None:
    go_mod = ROOT / "stack" / "ferretdb" / "go.mod"
    try:
        text = go_mod.read_text(encoding="utf-8")
    except OSError:
        return None
    matched = re.search(re.escape(module) + r"\s+(v[\w.\-]+)", text)
    return matched.group(1) if matched else None


def _kafka(settings: Settings) -> str:
    for jar in sorted((settings.data_dir / "kafka" / "libs").glob("kafka_*.jar")):
        if matched := KAFKA_JAR.search(jar.name):
            return f"Kafka {matched['version']} (KRaft)"
    return "unknown (no kafka jar under the stack's data folder)"


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        return "not installed"
    done = subprocess.run([java, "-version"], capture_output=True, text=True, check=False, cwd=ROOT)
    first = (done.stderr or done.stdout).splitlines()
    return first[0] if first else "unknown"
