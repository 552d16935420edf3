"""Replay deletes this app's local table stores, and only this app's."""

from __future__ import annotations

from pathlib import Path

from squidstream.settings import Settings
from streams.projection.replay import drop_local_table_stores, local_table_stores


def test_replay_deletes_the_local_table_stores_of_this_app_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, faust_app_id="squid")
    workers = tmp_path / "workers"
    mine = [workers / "squid-6066", workers / "squid-6067"]
    others = [workers / "squid-test-6066", workers / "other-6066"]
    for folder in mine + others:
        (folder / "tables").mkdir(parents=True)
        (folder / "tables" / "data.sst").write_bytes(b"old counts")

    assert local_table_stores(settings) == mine
    drop_local_table_stores(settings)

    assert [folder.exists() for folder in mine] == [False, False]
    assert [folder.exists() for folder in others] == [True, True]


def test_no_workers_folder_is_nothing_to_delete(tmp_path: Path) -> None:
    drop_local_table_stores(Settings(data_dir=tmp_path))
    assert not (tmp_path / "workers").exists()
