"""Is a TCP port free on loopback, and if not, which process holds it (best effort)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path

_LISTEN = "0A"


def port_free(host: str, port: int) -> bool:
    """True if nothing listens on host:port (a bind test, so TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text(encoding="ascii").splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == _LISTEN and int(local.rsplit(":", 1)[1], 16) == port:
                inodes.add(inode)
    return inodes


def port_owner(port: int) -> str:
    """'pid N (command)' of a process listening on port, or 'an unknown process'."""
    inodes = _listening_inodes(port)
    if inodes:
        targets = {f"socket:[{inode}]" for inode in inodes}
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit() and _holds_any(proc, targets):
                comm = (proc / "comm").read_text(encoding="utf-8", errors="replace").strip()
                return f"pid {proc.name} ({comm})"
    return "an unknown process"


def _holds_any(proc: Path, targets: set[str]) -> bool:
    try:
        for fd in (proc / "fd").iterdir():
            try:
                if fd.readlink().as_posix() in targets:
                    return True
            except OSError:
                continue
    except OSError:
        return False
    return False
