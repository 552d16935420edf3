"""What MariaDB and TiDB share: a MySQL-protocol health check and the projection database."""

from __future__ import annotations

from pathlib import Path

import aiomysql

from stack.servers.base import Server


class MySQLServer(Server):
    """A server clients reach with aiomysql at settings.sql_host:settings.sql_port."""

    port_field = "sql_port"

    @property
    def socket_path(self) -> Path:
        # Under run/: not the system's /run/mysqld, nor TiDB's /tmp/tidb-<port>.sock, which
        # every stack on the machine would share.
        return self.paths.run / f"{self.name}.sock"

    async def connect(self) -> aiomysql.Connection:
        """A connection as the configured user, without a default database."""
        return await aiomysql.connect(
            host=self.settings.sql_host,
            port=self.port,
            user=self.settings.sql_user,
            password=self.settings.sql_password.get_secret_value(),
            connect_timeout=3,
        )

    async def check(self) -> None:
        conn = await self.connect()
        try:
            async with conn.cursor() as cur:
                await cur.execute("SELECT 1")
                if await cur.fetchone() != (1,):
                    raise RuntimeError("SELECT 1 did not return 1")
        finally:
            conn.close()

    async def on_ready(self) -> None:
        name = self.settings.sql_database
        conn = await self.connect()
        try:
            async with conn.cursor() as cur:
                # Look first: IF NOT EXISTS on an existing database raises a driver Warning.
                await cur.execute(
                    "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = %s", (name,)
                )
                if await cur.fetchone() is None:
                    await cur.execute(f"CREATE DATABASE IF NOT EXISTS `{name.replace('`', '``')}`")
        finally:
            conn.close()
