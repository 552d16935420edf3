"""TiDB in the local stack: its command line and config, the SQL-server choice, a real start."""

from __future__ import annotations

import argparse
import asyncio
import tomllib
from pathlib import Path

import aiomysql
import pytest

from squidshell.cli import build_parser
from squidstream.settings import Settings
from stack import manager
from stack.cli import command_settings
from stack.errors import ServerError, StackError
from stack.paths import StackPaths
from stack.ports import port_free
from stack.servers import tidb as tidb_module
from stack.servers.tidb import MEMORY_LIMIT, TiDB
from tests.helpers import free_port
from tests.stack.bystander import recorded_bystander

BUILT_BINARY = Settings().data_dir / "bin" / "tidb-server"


def _tidb(settings: Settings) -> TiDB:
    return TiDB(settings, StackPaths(settings.data_dir))


def _flag(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def test_tidb_runs_the_built_binary_on_unistore_under_data_dir(tmp_path: Path) -> None:
    server = _tidb(Settings(data_dir=tmp_path, sql_server="tidb", sql_port=4000))
    argv = server.argv()
    assert argv[0] == str(tmp_path / "bin" / "tidb-server")
    assert _flag(argv, "-store") == "unistore"
    assert _flag(argv, "-path") == str(tmp_path / "data" / "tidb")
    assert (_flag(argv, "-host"), _flag(argv, "-P")) == ("127.0.0.1", "4000")
    assert _flag(argv, "-config") == str(tmp_path / "tidb" / "tidb.toml")
    assert "-config-strict" in argv  # a misspelt config key stops the server instead of passing
    assert server.marker in " ".join(argv)


def test_the_status_port_keeps_tidbs_distance_from_the_sql_port(tmp_path: Path) -> None:
    server = _tidb(Settings(data_dir=tmp_path, sql_port=4000))
    assert _flag(server.argv(), "-status") == "10080"
    assert server.ports == (4000, 10080)


def test_the_status_server_is_off_when_its_port_would_not_exist(tmp_path: Path) -> None:
    server = _tidb(Settings(data_dir=tmp_path, sql_port=60000))
    assert "-report-status=false" in server.argv()
    assert "-status" not in server.argv()
    assert server.ports == (60000,)


def test_the_config_keeps_logs_socket_and_temp_files_under_data_dir(tmp_path: Path) -> None:
    root = tmp_path / 'odd "dir" \\ name'
    server = _tidb(Settings(data_dir=root, sql_server="tidb"))
    config = tomllib.loads(tidb_module.tidb_config(server))
    assert config["temp-dir"] == str(root / "data" / "tidb" / "tmp")
    assert config["socket"] == str(root / "run" / "tidb.sock")
    assert config["log"]["file"]["filename"] == str(root / "logs" / "tidb" / "tidb.log")
    assert config["log"]["slow-query-file"] == str(root / "logs" / "tidb" / "tidb-slow.log")
    assert server.log_path == root / "logs" / "tidb" / "tidb.log"  # what `up` shows on failure


def test_prepare_writes_the_config_and_skips_the_build_when_the_binary_exists(
    tmp_path: Path,
) -> None:
    server = _tidb(Settings(data_dir=tmp_path, sql_server="tidb"))
    server.binary.parent.mkdir(parents=True)
    server.binary.write_text("#!/bin/sh\n", encoding="ascii")
    messages: list[str] = []
    server.prepare(messages.append)
    assert messages == []
    assert server.config_path.is_file()
    assert server.temp_dir.is_dir()


def _fake_build_script(tmp_path: Path, body: str, monkeypatch: pytest.MonkeyPatch) -> None:
    script = tmp_path / "build.sh"
    script.write_text(f"set -e\n{body}\n", encoding="ascii")
    monkeypatch.setattr(tidb_module, "BUILD_SCRIPT", script)


def test_prepare_builds_a_missing_binary_into_this_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = 'mkdir -p "$SQUID_DATA_DIR/bin" && touch "$SQUID_DATA_DIR/bin/tidb-server"'
    _fake_build_script(tmp_path, body, monkeypatch)
    server = _tidb(Settings(data_dir=tmp_path / "stack", sql_server="tidb"))
    messages: list[str] = []
    server.prepare(messages.append)
    assert server.binary.exists()
    assert "building" in messages[0]
    assert messages[-1].startswith(f"tidb: built {server.binary}")


def test_a_failed_build_names_tidb_and_the_build_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_build_script(tmp_path, "exit 3", monkeypatch)
    server = _tidb(Settings(data_dir=tmp_path / "stack", sql_server="tidb"))
    with pytest.raises(ServerError, match=r"exit 3\); see .*tidb-build\.log") as failure:
        server.prepare(lambda _: None)
    assert failure.value.server == "tidb"


def test_the_sql_server_setting_picks_mariadb_or_tidb_in_the_same_slot() -> None:
    assert manager.server_names(Settings(sql_server="mariadb")) == [
        "redis", "mariadb", "ferretdb", "rabbitmq", "kafka",
    ]  # fmt: skip
    assert manager.server_names(Settings(sql_server="tidb")) == [
        "redis", "tidb", "ferretdb", "rabbitmq", "kafka",
    ]  # fmt: skip
    assert {"mariadb", "tidb"} <= set(manager.server_names())


def test_only_naming_the_sql_server_not_selected_is_refused_with_the_fix() -> None:
    with pytest.raises(StackError, match="add --sql tidb"):
        manager.make_servers(Settings(sql_server="mariadb"), ["tidb"])


def test_every_stack_action_takes_sql_and_only_the_known_servers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for action in ("up", "down", "status"):
        assert build_parser().parse_args(["stack", action, "--sql", "tidb"]).sql == "tidb"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stack", "up", "--sql", "postgres"])
    assert "postgres" in capsys.readouterr().err


def _cli_args(sql: str | None) -> argparse.Namespace:
    return argparse.Namespace(sql=sql, only=None)


def test_sql_flag_selects_tidb_on_its_default_port_unless_the_port_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SQUID_SQL_SERVER", raising=False)
    monkeypatch.delenv("SQUID_SQL_PORT", raising=False)
    plain = command_settings(_cli_args(None))
    assert (plain.sql_server, plain.sql_port) == ("mariadb", 3306)
    chosen = command_settings(_cli_args("tidb"))
    assert (chosen.sql_server, chosen.sql_port) == ("tidb", 4000)
    monkeypatch.setenv("SQUID_SQL_PORT", "4100")
    pinned = command_settings(_cli_args("tidb"))
    assert (pinned.sql_server, pinned.sql_port) == ("tidb", 4100)


def test_down_also_looks_at_a_tidb_started_under_the_other_setting(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "stack", sql_server="mariadb")
    with recorded_bystander(settings.data_dir, "tidb", "-path /nowhere") as bystander:
        messages: list[str] = []
        manager.down(settings, report=messages.append)
        assert f"tidb: pid {bystander.pid} is not the process we started; left it alone" in messages
        assert bystander.poll() is None
        assert not StackPaths(settings.data_dir).pid("tidb").exists()


def _spare_sql_port() -> int:
    """A free port whose TiDB status port (port + 6080) is free too."""
    for _ in range(50):
        port = free_port()
        status = port + tidb_module.STATUS_PORT_OFFSET
        if status <= 65535 and port_free("127.0.0.1", status):
            return port
    raise AssertionError("no free pair of ports for TiDB")


async def _memory_limit_and_databases(settings: Settings) -> tuple[str, list[str]]:
    conn = await aiomysql.connect(host=settings.sql_host, port=settings.sql_port, user="root")
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT @@GLOBAL.tidb_server_memory_limit")
            (limit,) = await cur.fetchone()
            await cur.execute("SHOW DATABASES")
            names = [row[0] for row in await cur.fetchall()]
    finally:
        conn.close()
    return str(limit), names


@pytest.mark.slow
@pytest.mark.skipif(
    not BUILT_BINARY.exists(),
    reason=f"needs a built tidb-server at {BUILT_BINARY} (`bash stack/tidb/build.sh`, ~12 min)",
)
def test_up_with_sql_server_tidb_starts_a_private_tidb_and_down_stops_it(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path / "stack",
        sql_server="tidb",
        sql_port=_spare_sql_port(),
        sql_database="squid_private",
    )
    binary = StackPaths(settings.data_dir).bin / "tidb-server"
    binary.parent.mkdir(parents=True)
    binary.symlink_to(BUILT_BINARY)  # 250 MB: share it rather than copy it
    try:
        manager.up(settings, ["tidb"], report=lambda _: None)
        [row] = manager.status(settings, ["tidb"])
        assert (row.name, row.port, row.healthy) == ("tidb", settings.sql_port, True)
        limit, databases = asyncio.run(_memory_limit_and_databases(settings))
        assert limit == MEMORY_LIMIT
        assert "squid_private" in databases
    finally:
        manager.down(settings, ["tidb"], report=lambda _: None)
    assert port_free("127.0.0.1", settings.sql_port)
    [row] = manager.status(settings, ["tidb"])
    assert (row.pid, row.healthy, row.note) == (None, False, "stopped")
