"""Small helpers for tests on the shared servers: unique names and spare ports."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiomysql
import httpx

from squidstream.isolation import isolated
from squidstream.launcher import free_port as free_port  # the tests import it from here
from squidstream.settings import Settings


def unique_name(prefix: str) -> str:
    """A name no other test uses: for a topic, queue, Redis prefix or database.

    Only lowercase letters, digits and underscores, so it is valid everywhere (SQL included).
    """
    clean = "".join(ch if ch.isalnum() else "_" for ch in prefix.lower())
    return f"{clean}_{uuid.uuid4().hex[:12]}"


def isolated_settings(stack: Settings, prefix: str) -> Settings:
    """The stack's settings with a private topic, queue, consumer group, Redis prefix,
    SQL and Mongo databases, and a free worker web port: a test of its own on shared servers.
    """
    return isolated(
        stack,
        unique_name(prefix),
        free_port(),
        events_partitions=4,
        batch_timeout_s=0.1,
        # A SIGKILLed worker's partitions move after this long instead of 30 s.
        consumer_session_timeout_s=6.0,
    )


async def sql_connect(settings: Settings, *, database: bool = True, **options: Any) -> Any:
    """An autocommit aiomysql connection to the settings' SQL server (and database)."""
    args: dict[str, Any] = {
        "host": settings.sql_host,
        "port": settings.sql_port,
        "user": settings.sql_user,
        "password": settings.sql_password.get_secret_value(),
        "autocommit": True,
        **options,
    }
    if database:
        args["db"] = settings.sql_database
    return await aiomysql.connect(**args)


async def worker_pages(workers: Sequence[Settings]) -> list[dict[str, Any]]:
    """The `/squid/tables/` page of every worker that answers (a silent one is skipped)."""
    pages = []
    async with httpx.AsyncClient(timeout=5) as client:
        for worker in workers:
            url = f"http://{worker.faust_web_host}:{worker.faust_web_port}/squid/tables/"
            try:
                pages.append((await client.get(url)).json())
            except (httpx.HTTPError, ValueError):
                continue
    return pages


def self_signed(folder: Path, common_name: str, *extensions: str) -> tuple[Path, Path]:
    """A self-signed EC certificate and its key in `folder`, made with the openssl CLI;
    `extensions` are `-addext` values (a subjectAltName, say)."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    argv = ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"]
    argv += ["-nodes", "-days", "2", "-subj", f"/CN={common_name}"]
    argv += ["-keyout", str(key), "-out", str(cert)]
    for extension in extensions:
        argv += ["-addext", extension]
    subprocess.run(argv, check=True, capture_output=True)
    return cert, key
