"""PostgreSQL runs as FerretDB's backend only when mongo_backend selects it, and then really
holds FerretDB's data: one private stack, up, a document through FerretDB, down."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pymongo import MongoClient

from squidshell.cli import build_parser
from squidstream.settings import Settings
from stack import manager, process
from stack.cli import command_settings
from stack.errors import StackError
from stack.paths import StackPaths
from stack.servers import FerretDB, PostgreSQL, with_backend
from tests.helpers import unique_name
from tests.stack.private import private_stack

ON_POSTGRESQL = {"mongo_backend": "postgresql"}


def test_postgresql_runs_only_for_that_backend_and_before_ferretdb() -> None:
    assert "postgresql" not in manager.server_names(Settings(mongo_backend="sqlite"))
    names = manager.server_names(Settings(mongo_backend="postgresql"))
    assert names.index("postgresql") < names.index("ferretdb")
    assert "postgresql" in manager.server_names()


def test_only_ferretdb_brings_its_postgresql_on_that_backend_alone() -> None:
    assert with_backend(Settings(mongo_backend="postgresql"), ["ferretdb"]) == [
        "ferretdb",
        "postgresql",
    ]
    assert with_backend(Settings(mongo_backend="sqlite"), ["ferretdb"]) == ["ferretdb"]
    assert with_backend(Settings(mongo_backend="postgresql"), ["redis"]) == ["redis"]
    assert with_backend(Settings(mongo_backend="postgresql"), None) is None


def test_naming_postgresql_on_the_sqlite_backend_is_refused_with_the_fix() -> None:
    with pytest.raises(StackError, match="add --mongo-backend postgresql"):
        manager.make_servers(Settings(mongo_backend="sqlite"), ["postgresql"])


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="mongo_backend"):
        Settings(mongo_backend="rocksdb")


def test_ferretdb_is_told_its_backend(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path)
    lite = FerretDB(Settings(mongo_backend="sqlite"), paths).argv()
    assert lite[-4:] == ["-handler", "sqlite", "-sqlite-dir", str(paths.data("ferretdb"))]
    on_pg = FerretDB(Settings(mongo_backend="postgresql", postgres_port=6010), paths).argv()
    url = "postgres://postgres@127.0.0.1:6010/ferretdb"
    assert on_pg[-4:] == ["-handler", "postgresql", "-postgresql-url", url]


def test_the_backend_option_sets_the_setting_for_the_command() -> None:
    args = build_parser().parse_args(["stack", "up", "--mongo-backend", "postgresql"])
    assert command_settings(args).mongo_backend == "postgresql"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["stack", "up", "--mongo-backend", "mongodb"])


def _round_trip(settings: Settings, database: str, doc: dict[str, object]) -> object:
    """Insert doc if given, then find the document with _id 1."""
    client: MongoClient[dict[str, object]] = MongoClient(settings.mongo_url)
    try:
        if doc:
            client[database]["audit"].insert_one(doc)
        return client[database]["audit"].find_one({"_id": 1})
    finally:
        client.close()


@pytest.mark.slow
def test_ferretdb_keeps_its_documents_in_postgresql_and_down_stops_every_process() -> None:
    database = unique_name("stack_pg")
    with private_stack(["postgresql", "ferretdb"], overrides=ON_POSTGRESQL) as settings:
        postgresql = PostgreSQL(settings, StackPaths(settings.data_dir))
        assert _round_trip(settings, database, {"_id": 1, "winner": 7}) == {"_id": 1, "winner": 7}
        # FerretDB keeps one schema per Mongo database in PostgreSQL's `ferretdb` database.
        schemas = "SELECT schema_name FROM information_schema.schemata"
        assert database in asyncio.run(postgresql.query(schemas, "ferretdb")).split()
        durable = "SHOW fsync; SHOW synchronous_commit"
        assert asyncio.run(postgresql.query(durable)).split() == ["on", "on"]
        record = process.read_record(postgresql.pid_path)
        assert record is not None
        assert process.is_ours(record)

        manager.down(settings, report=lambda _: None)
        # The postmaster and every helper it forked (they share its process group).
        assert process.group_members(record.pid) == {}

        # The same stack on SQLite starts no PostgreSQL and sees none of its data.
        sqlite = settings.model_copy(update={"mongo_backend": "sqlite"})
        manager.up(sqlite, ["ferretdb"], report=lambda _: None)
        assert not postgresql.pid_path.exists()
        assert _round_trip(sqlite, database, {}) is None
