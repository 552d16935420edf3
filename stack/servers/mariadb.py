"""MariaDB from the Debian package: a private datadir, root over loopback TCP without password."""

from __future__ import annotations

import subprocess
from typing import ClassVar

from stack.errors import ServerError
from stack.servers.base import Report
from stack.servers.mysql import MySQLServer


class MariaDB(MySQLServer):
    name = "mariadb"
    start_timeout_s = 60.0
    packages: ClassVar[dict[str, str]] = {
        "mariadbd": "mariadb-server",
        "mariadb-install-db": "mariadb-server",
    }

    @property
    def marker(self) -> str:
        return f"--datadir={self.data_dir}"

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        if not (self.data_dir / "mysql").is_dir():
            report("mariadb: creating the system tables (mariadb-install-db, first run only)")
            self._install_db()

    def _install_db(self) -> None:
        argv = [
            self.executable("mariadb-install-db"),
            "--no-defaults",
            f"--datadir={self.data_dir}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        ]
        with self.log_path.open("a", encoding="utf-8") as log:
            done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, check=False)
        if done.returncode != 0:
            raise ServerError(self.name, f"mariadb-install-db failed; see {self.log_path}")

    def argv(self) -> list[str]:
        # The socket lives under run/ so nothing touches the system's /run/mysqld.
        return [
            self.executable("mariadbd"),
            "--no-defaults",
            f"--datadir={self.data_dir}",
            "--user=root",
            f"--socket={self.socket_path}",
            f"--port={self.port}",
            f"--bind-address={self.bind_host}",
            f"--pid-file={self.paths.run / 'mariadbd.pid'}",
            "--max-connections=1000",
            "--character-set-server=utf8mb4",
            "--collation-server=utf8mb4_unicode_ci",
        ]
