"""squidstream.topics refuses replication settings a cluster cannot honour, before creating."""

from __future__ import annotations

import pytest

from squidstream.settings import Settings
from squidstream.topics import MIN_INSYNC, TopicSpec, new_topic, replication_problem


def test_a_factor_the_brokers_can_hold_is_accepted() -> None:
    settings = Settings(events_replication_factor=3, events_min_insync_replicas=2)
    assert replication_problem(settings, brokers=3) is None
    assert replication_problem(settings, brokers=5) is None


def test_a_factor_above_the_broker_count_names_the_setting_and_the_way_out() -> None:
    settings = Settings(events_replication_factor=3, events_min_insync_replicas=2)
    problem = replication_problem(settings, brokers=1)
    assert problem is not None
    assert "replication factor 3 (SQUID_EVENTS_REPLICATION_FACTOR)" in problem
    assert "above the 1 broker(s)" in problem
    assert "--kafka-brokers 3" in problem


def test_a_min_isr_above_the_factor_is_refused() -> None:
    settings = Settings(events_replication_factor=2, events_min_insync_replicas=3)
    problem = replication_problem(settings, brokers=3)
    assert problem is not None
    assert "SQUID_EVENTS_MIN_INSYNC_REPLICAS" in problem


@pytest.mark.parametrize(("factor", "min_isr"), [(1, 1), (3, 2)])
def test_new_topics_carry_the_settings_factor_and_min_isr(factor: int, min_isr: int) -> None:
    settings = Settings(events_replication_factor=factor, events_min_insync_replicas=min_isr)
    topic = new_topic(settings, TopicSpec("t", 4, {"retention.ms": "-1"}))
    assert (topic.num_partitions, topic.replication_factor) == (4, factor)
    assert topic.topic_configs == {MIN_INSYNC: str(min_isr), "retention.ms": "-1"}


def test_a_spec_may_set_its_own_min_isr() -> None:
    settings = Settings(events_replication_factor=3, events_min_insync_replicas=2)
    topic = new_topic(settings, TopicSpec("t", 1, {MIN_INSYNC: "1"}))
    assert topic.topic_configs[MIN_INSYNC] == "1"
