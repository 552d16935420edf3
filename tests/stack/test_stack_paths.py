"""The folder layout of a stack under its data_dir."""

from __future__ import annotations

from pathlib import Path

from stack.paths import StackPaths


def test_every_folder_and_file_sits_where_the_layout_says(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path)
    assert (paths.bin, paths.downloads) == (tmp_path / "bin", tmp_path / "downloads")
    assert (paths.logs, paths.run) == (tmp_path / "logs", tmp_path / "run")
    assert paths.lock_file == tmp_path / "run" / "stack.lock"
    assert paths.data("redis") == tmp_path / "data" / "redis"
    assert paths.log("redis") == tmp_path / "logs" / "redis.log"
    assert paths.pid("redis") == tmp_path / "run" / "redis.pid"


def test_create_makes_the_top_level_folders_only(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path / "stack")
    paths.create()
    made = {path.name for path in paths.root.iterdir()}
    assert made == {"bin", "downloads", "logs", "run"}


def test_two_layouts_of_one_root_are_equal_and_root_is_their_only_field() -> None:
    assert StackPaths(Path("/x")) == StackPaths(Path("/x"))
    assert repr(StackPaths(Path("/x"))) == f"StackPaths(root={Path('/x')!r})"
