"""The worker's table pages: one path for the worker that serves it and every reader."""

from __future__ import annotations

from squidstream.worker_pages import TABLE_KEY_PATH, TABLES_PATH, worker_tables_url


def test_a_worker_tables_url_ends_in_the_page_the_worker_serves() -> None:
    assert worker_tables_url("127.0.0.1", 6066) == "http://127.0.0.1:6066/squid/tables/"
    assert TABLE_KEY_PATH.format(table="game_counts", key="3") == f"{TABLES_PATH}game_counts/3/"
