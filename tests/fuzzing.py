"""Test-only: the hypothesis settings of the schemathesis suites, in one place."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def api_fuzzing(max_examples: int) -> settings:
    """No deadline (each example is a real request) and a fixture-scoped app is fine."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
