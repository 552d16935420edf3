"""Redis keeps what it acknowledged: AOF on, fsync'd always, an RDB-only folder converted."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import redis

from squidstream.settings import Settings
from stack import faults, manager
from stack.paths import StackPaths
from stack.servers.redis import AOF_DIR, Redis
from tests.stack.private import private_stack


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_redis_runs_with_an_append_only_file_fsynced_on_every_write(tmp_path: Path) -> None:
    argv = Redis(Settings(data_dir=tmp_path), StackPaths(tmp_path)).argv()
    assert _flag(argv, "--appendonly") == "yes"
    assert _flag(argv, "--appendfsync") == "always"
    assert _flag(argv, "--dir") == str(tmp_path / "data" / "redis")


@pytest.mark.slow
def test_a_folder_with_only_an_rdb_snapshot_keeps_its_data_and_gains_an_aof() -> None:
    with private_stack(["redis"]) as settings:
        data = StackPaths(settings.data_dir).data("redis")
        client = redis.Redis(port=settings.redis_port)
        try:
            client.set("from the snapshot", "kept")
            client.save()
            # What the stack before AOF left behind: dump.rdb and nothing else.
            manager.down(settings, ["redis"], report=lambda _: None)
            shutil.rmtree(data / AOF_DIR)
            manager.up(settings, ["redis"], report=lambda _: None)
            assert client.get("from the snapshot") == b"kept"
            assert client.config_get("appendonly") == {"appendonly": "yes"}
            # The AOF alone carries the data now: a SIGKILL and a start from it keep the key.
            (data / "dump.rdb").unlink()
            faults.kill(settings, "redis")
            faults.restart(settings, "redis", report=lambda _: None)
            assert client.get("from the snapshot") == b"kept"
        finally:
            client.close()
