"""Finding the servers' binaries and the folders the rabbitmq user can reach."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from stack.install import find_binary
from stack.servers.rabbitmq import unreachable_for_others


def test_sbin_binaries_are_found_when_path_lacks_sbin(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = Path("/usr/sbin/mariadbd")
    if not expected.exists():
        pytest.skip("mariadb-server is not installed")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert find_binary("mariadbd") == str(expected)


def test_a_missing_binary_is_reported_as_none() -> None:
    assert find_binary("squidstream-no-such-binary") is None


def test_a_private_parent_folder_is_named_as_unreachable() -> None:
    # Not tmp_path: pytest's base folder is private itself and would be named first.
    base = Path(tempfile.mkdtemp(prefix="squid-stack-test-"))
    try:
        base.chmod(0o755)
        private = base / "private"
        inner = private / "stack" / "data" / "rabbitmq"
        inner.mkdir(parents=True)
        private.chmod(0o700)
        assert unreachable_for_others(inner) == private
        private.chmod(0o755)
        assert unreachable_for_others(inner) is None
    finally:
        shutil.rmtree(base)
