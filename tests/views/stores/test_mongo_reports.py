"""The audit-log filter becomes a query both FerretDB and MongoDB understand."""

from __future__ import annotations

from views.stores.mongo_reports import LogFilter


def test_an_empty_filter_matches_every_document() -> None:
    assert LogFilter().query() == {}


def test_a_full_filter_selects_game_route_and_a_half_open_time_range() -> None:
    query = LogFilter(game_id=3, route="kafka", from_ms=10, to_ms=20).query()

    assert query == {"game_id": 3, "route": "kafka", "occurred_at_ms": {"$gte": 10, "$lt": 20}}


def test_a_range_open_on_one_side_bounds_only_that_side() -> None:
    assert LogFilter(to_ms=5).query() == {"occurred_at_ms": {"$lt": 5}}
