"""Apply the versioned SQL files in order, once each, recorded in schema_migrations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymysql  # type: ignore[import-untyped]

from streams.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
FILE_NAME = re.compile(r"^V(\d{3,})__\w+\.sql$")
CREATE_LEDGER = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version INT NOT NULL PRIMARY KEY,"
    " name VARCHAR(128) NOT NULL,"
    " applied_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))"
)
# The tables replay drops; listed so a replay never touches tables it does not own.
PROJECTION_TABLES = (
    "game_results",
    "player_wins",
    "game_size_counts",
    "game_counts",
    "route_counts",
    "projection_offsets",
    "schema_migrations",
)


@dataclass(frozen=True)
class Migration:
    """One versioned SQL file split into statements."""

    version: int
    name: str
    statements: tuple[str, ...]


def load_migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """Every V###__name.sql file in version order; a misnamed .sql file is an error."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = FILE_NAME.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name!r} is not named V###__name.sql")
        found.append(Migration(int(match.group(1)), path.stem, split_statements(path.read_text())))
    versions = [migration.version for migration in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {directory}")
    return sorted(found, key=lambda migration: migration.version)


def split_statements(text: str) -> tuple[str, ...]:
    """Statements separated by ';' at line ends; '--' comment lines are dropped."""
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return tuple(part.strip() for part in "\n".join(lines).split(";") if part.strip())


async def migrate(conn: Any, migrations: list[Migration] | None = None) -> list[int]:
    """Apply the migrations not yet recorded; return the versions applied now."""
    pending = load_migrations() if migrations is None else migrations
    applied_now = []
    try:
        async with conn.cursor() as cur:
            await cur.execute(CREATE_LEDGER)
            await cur.execute("SELECT version FROM schema_migrations")
            done = {int(row[0]) for row in await cur.fetchall()}
            for migration in pending:
                if migration.version in done:
                    continue
                for statement in migration.statements:
                    await cur.execute(statement)
                await cur.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
                applied_now.append(migration.version)
        await conn.commit()
    except pymysql.MySQLError as exc:
        raise MigrationError(f"migration failed: {exc}") from exc
    return applied_now


async def drop_projection_tables(conn: Any) -> None:
    """Drop every table the projections own (replay re-creates them by migrating)."""
    try:
        async with conn.cursor() as cur:
            for table in PROJECTION_TABLES:
                await cur.execute(f"DROP TABLE IF EXISTS {table}")
        await conn.commit()
    except pymysql.MySQLError as exc:
        raise MigrationError(f"cannot drop projection tables: {exc}") from exc
