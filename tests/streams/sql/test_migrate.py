"""Reading the versioned migration files."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.errors import MigrationError
from streams.sinks.sql_schema.migrate import load_migrations, split_statements


def test_the_shipped_migrations_start_at_version_one_and_create_the_result_table() -> None:
    migrations = load_migrations()
    assert migrations[0].version == 1
    assert any("CREATE TABLE IF NOT EXISTS game_results" in s for s in migrations[0].statements)


def test_statements_are_split_on_semicolons_and_comment_lines_dropped() -> None:
    text = "-- a comment\nCREATE TABLE a (x INT);\n\nCREATE TABLE b (y INT);\n"
    assert split_statements(text) == ("CREATE TABLE a (x INT)", "CREATE TABLE b (y INT)")


def test_migrations_are_ordered_by_version_number(tmp_path: Path) -> None:
    (tmp_path / "V010__later.sql").write_text("SELECT 10;")
    (tmp_path / "V002__earlier.sql").write_text("SELECT 2;")
    assert [m.version for m in load_migrations(tmp_path)] == [2, 10]


def test_a_misnamed_migration_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "init.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match=r"V###__name\.sql"):
        load_migrations(tmp_path)


def test_two_files_with_one_version_are_refused(tmp_path: Path) -> None:
    (tmp_path / "V001__a.sql").write_text("SELECT 1;")
    (tmp_path / "V0001__b.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="duplicate"):
        load_migrations(tmp_path)
