"""A private stack left behind by a killed test run is stopped and deleted by the next one."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.stack.private import OWNER_FILE, PREFIX, reap_orphans


def stack_of(parent: Path, name: str, owner: int) -> Path:
    root = parent / f"{PREFIX}{name}"
    root.mkdir()
    (root / OWNER_FILE).write_text(f"{owner}\n", encoding="ascii")
    return root


def test_only_stacks_whose_owner_has_exited_are_reaped(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    orphan = stack_of(tmp_path, "orphan", dead.pid)
    mine = stack_of(tmp_path, "mine", os.getpid())
    unowned = tmp_path / f"{PREFIX}old"  # made before owners were recorded: left alone
    unowned.mkdir()
    assert reap_orphans(tmp_path) == [orphan]
    assert not orphan.exists()
    assert mine.exists()
    assert unowned.exists()
