"""The audit log's filter, key cursor and counter sums; and reads that never count the log."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from squidstream.settings import Settings
from tests.views.seed import SeedGame, make_games, seed_mongo
from views.resources import Resources, open_resources
from views.stores.mongo_reports import (
    BadCursor,
    LogCursor,
    LogFilter,
    sum_tracking,
    top_of,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)


def test_an_empty_filter_matches_every_document() -> None:
    assert LogFilter().query() == {}


def test_a_full_filter_selects_game_route_and_a_half_open_time_range() -> None:
    query = LogFilter(game_id=3, route="kafka", from_ms=10, to_ms=20).query()

    assert query == {"game_id": 3, "route": "kafka", "occurred_at_ms": {"$gte": 10, "$lt": 20}}


def test_a_range_open_on_one_side_bounds_only_that_side() -> None:
    assert LogFilter(to_ms=5).query() == {"occurred_at_ms": {"$lt": 5}}


def test_a_page_after_a_cursor_continues_below_it_breaking_ties_by_id() -> None:
    query = LogFilter(route="kafka").query(LogCursor(50, "ev-9"))

    assert query == {
        "$and": [
            {"route": "kafka"},
            {
                "$or": [
                    {"occurred_at_ms": {"$lt": 50}},
                    {"occurred_at_ms": 50, "_id": {"$lt": "ev-9"}},
                ]
            },
        ]
    }


@given(st.integers(min_value=0, max_value=2**63 - 1), st.text(max_size=80))
def test_a_cursor_decodes_to_what_was_encoded(ms: int, event_id: str) -> None:
    cursor = LogCursor(ms, event_id)

    assert LogCursor.decode(cursor.encode()) == cursor


@pytest.mark.parametrize("text", ["", "not-a-cursor", "WzEsMl0", "eyJhIjoxfQ", "WyIxIiwiYSJd"])
def test_a_cursor_this_module_did_not_write_is_refused(text: str) -> None:
    # "[1,2]" (id not a string), '{"a":1}' (not a pair), '["1","a"]' (time not an int)
    with pytest.raises(BadCursor):
        LogCursor.decode(text)


@pytest.mark.parametrize(
    "cursor", [LogCursor(2**63, "ev"), LogCursor(-1, "ev"), LogCursor(1, "e" * 201)]
)
def test_a_cursor_beyond_what_the_log_can_hold_is_refused_not_sent_to_the_driver(
    cursor: LogCursor,
) -> None:
    with pytest.raises(BadCursor):
        LogCursor.decode(cursor.encode())


def test_tracking_documents_add_up_per_game_per_route_and_keep_the_newest_time() -> None:
    docs: list[dict[str, Any]] = [
        {"events": 3, "games": {"1": 2, "4": 1}, "routes": {"kafka": 3}, "projected_at": AT},
        {
            "events": 2,
            "games": {"1": 1, "5": 1, "2": 0},
            "routes": {"kafka": 1, "rabbitmq": 1},
            "projected_at": datetime(2026, 1, 2, tzinfo=UTC),
        },
    ]

    totals = sum_tracking(docs)

    assert totals.events == 5
    assert totals.games == Counter({1: 3, 4: 1, 5: 1})
    assert totals.routes == Counter({"kafka": 4, "rabbitmq": 1})
    assert totals.projected_at_ms == 1_767_312_000_000


def test_no_tracking_documents_mean_an_empty_log_of_unknown_freshness() -> None:
    totals = sum_tracking([])

    assert (totals.events, totals.projected_at_ms, dict(totals.games)) == (0, None, {})


def test_the_top_games_break_ties_by_the_lower_id_and_carry_their_names() -> None:
    top = top_of(Counter({5: 4, 2: 4, 3: 9, 1: 1}))

    assert [(g.game_id, g.game_name, g.games) for g in top] == [
        (3, "The Last One", 9),
        (2, "Half Game", 4),
        (5, "Odd Game", 4),
    ]


@pytest.fixture
async def seeded(store_settings: Settings) -> list[SeedGame]:
    games = make_games(60, seed=3)
    await seed_mongo(store_settings, games, 1_767_300_000_000)
    return games


@pytest.fixture
async def audit(store_settings: Settings) -> AsyncIterator[Resources]:
    """The app's own clients and adapters on the seeded stores."""
    resources = await open_resources(store_settings)
    try:
        yield resources
    finally:
        await resources.close()


@pytest.mark.stack
async def test_totals_count_only_the_events_topic_s_partitions(
    seeded: list[SeedGame], store_settings: Settings, audit: Resources
) -> None:
    another = store_settings.model_copy(update={"events_topic": "another-topic"})
    await seed_mongo(another, seeded, 1_767_300_000_000)

    totals = await audit.mongo_reports.totals()

    assert totals.events == len(seeded)
    assert totals.routes == Counter(g.route for g in seeded)


@pytest.mark.stack
async def test_counts_follow_the_counters_even_when_they_disagree_with_the_documents(
    seeded: list[SeedGame], store_settings: Settings, audit: Resources
) -> None:
    # Deleting documents leaves the counters alone: proof that no read counts the collection.
    database = audit.mongo[store_settings.mongo_database]
    await database[store_settings.mongo_collection].delete_many({})
    reports = audit.mongo_reports

    events, top, routes = (
        await reports.events(),
        await reports.top_games(),
        await reports.inserts_per_route(),
    )

    assert events == len(seeded)
    assert sum(r.inserts for r in routes.routes) == len(seeded)
    assert top.games[0].games == max(Counter(g.game_id for g in seeded).values())
