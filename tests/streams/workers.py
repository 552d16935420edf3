"""Shared set-up of the streams tests that run real workers on the shared stack."""

from __future__ import annotations

import pytest

from squidstream.settings import Settings

# Tests that take their settings' events topic created first (tests/streams/conftest.py).
ON_A_CREATED_TOPIC = pytest.mark.usefixtures("events_topic")


def worker_test(timeout_s: int, *more: pytest.MarkDecorator) -> list[pytest.MarkDecorator]:
    """A test that runs workers: it needs the stack, is slow, and has `timeout_s` to finish."""
    return [pytest.mark.stack, pytest.mark.slow, *more, pytest.mark.timeout(timeout_s)]


def next_worker(settings: Settings) -> Settings:
    """Settings for one more worker beside the first: the same app, the next web port."""
    return settings.model_copy(update={"faust_web_port": settings.faust_web_port + 1})
