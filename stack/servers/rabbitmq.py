"""RabbitMQ from the Debian package, as user rabbitmq, with every folder under data/rabbitmq."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import ClassVar

import aio_pika

from stack.errors import ServerError
from stack.install import require_binary
from stack.servers.base import Report, Server

NODE_NAME = "squid@localhost"
DEFAULT_PORT = 5672
SERVER_SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server"
SERVICE_HOME = "/var/lib/rabbitmq"
SERVICE_USER = "rabbitmq"


class RabbitMQ(Server):
    name = "rabbitmq"
    port_field = "rabbitmq_port"
    start_timeout_s = 90.0
    stop_timeout_s = 40.0
    packages: ClassVar[dict[str, str]] = {
        "rabbitmq-server": "rabbitmq-server",
        "rabbitmqctl": "rabbitmq-server",
    }

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.port, self.settings.rabbitmq_dist_port)

    @property
    def node_name(self) -> str:
        # A second stack (tests on spare ports) needs its own node name on the same host.
        return NODE_NAME if self.port == DEFAULT_PORT else f"squid{self.port}@localhost"

    @property
    def marker(self) -> str:
        return "rabbitmq-server"

    @property
    def node_pid_file(self) -> Path:
        return self.data_dir / "node.pid"

    def prepare(self, report: Report) -> None:
        super().prepare(report)
        blocked = unreachable_for_others(self.data_dir)
        if blocked is not None:
            reason = f"user {SERVICE_USER} cannot enter {blocked}; use a SQUID_DATA_DIR elsewhere"
            raise ServerError(self.name, reason)
        (self.data_dir / "mnesia").mkdir(exist_ok=True)
        (self.data_dir / "log").mkdir(exist_ok=True)
        plugins = self.data_dir / "enabled_plugins"
        if not plugins.exists():
            plugins.write_text("[].\n", encoding="ascii")
        # The node runs as `rabbitmq`, which must own everything it writes.
        for path in (self.data_dir, *self.data_dir.rglob("*")):
            shutil.chown(path, SERVICE_USER, SERVICE_USER)

    def argv(self) -> list[str]:
        # Debian's /usr/sbin/rabbitmq-server drops root through `su`, which puts the node in a
        # new session that our SIGTERM to the process group never reaches (and `su` SIGKILLs
        # its child shell 2 s later, orphaning the node). setpriv execs in place instead.
        self.executable("rabbitmq-server")
        setpriv = require_binary("setpriv", "util-linux")
        user = f"--reuid={SERVICE_USER}"
        return [setpriv, user, f"--regid={SERVICE_USER}", "--init-groups", SERVER_SCRIPT]

    def cwd(self) -> Path:
        return self.data_dir

    def env(self) -> dict[str, str]:
        # `-detached` fails silently here, so the node runs in the foreground of a detached child.
        return {
            **os.environ,
            "HOME": SERVICE_HOME,  # where the node finds its Erlang cookie
            "USER": SERVICE_USER,
            "LOGNAME": SERVICE_USER,
            "RABBITMQ_NODENAME": self.node_name,
            "RABBITMQ_NODE_IP_ADDRESS": self.bind_host,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.settings.rabbitmq_dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.data_dir / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.data_dir / "log"),
            "RABBITMQ_PID_FILE": str(self.node_pid_file),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.data_dir / "enabled_plugins"),
            "RABBITMQ_LOGS": "-",
            # epmd (the Erlang port mapper, 4369) on loopback if this node is the one to start it.
            "ERL_EPMD_ADDRESS": self.bind_host,
            # The Erlang distribution port (RABBITMQ_DIST_PORT, 25672) listens on every
            # interface unless told otherwise, guarded only by the cookie: loopback too.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": dist_on_interface(self.bind_host),
        }

    async def check(self) -> None:
        connection = await aio_pika.connect(self.settings.rabbitmq_url, timeout=5)
        try:
            channel = await connection.channel()
            await channel.close()
        finally:
            await connection.close()


def dist_on_interface(host: str) -> str:
    """Erlang flags binding the distribution listener to host (an IPv4 address)."""
    octets = ",".join(str(int(part)) for part in host.split("."))
    extra = os.environ.get("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", "")
    return f"{extra} -kernel inet_dist_use_interface {{{octets}}}".strip()


def unreachable_for_others(folder: Path) -> Path | None:
    """The first root-owned parent that other users cannot enter (the node runs as rabbitmq)."""
    for parent in reversed(folder.resolve().parents):
        mode = parent.stat()
        if mode.st_uid == 0 and not mode.st_mode & stat.S_IXOTH:
            return parent
    return None
