"""Session fixtures for every test: the local stack, started once and never stopped here."""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest

from squidstream.settings import Settings, load_settings
from stack.errors import StackError
from stack.manager import up

EXTERNAL_ENV = "SQUID_STACK_EXTERNAL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stack-external",
        action="store_true",
        help=f"use servers that already run; do not call `stack up` (or set {EXTERNAL_ENV}=1)",
    )


@pytest.fixture(scope="session")
def stack_is_external(request: pytest.FixtureRequest) -> bool:
    """True when the servers are managed elsewhere and tests must not start or stop them."""
    return bool(request.config.getoption("--stack-external")) or os.environ.get(EXTERNAL_ENV) == "1"


@pytest.fixture(scope="session")
def stack(stack_is_external: bool) -> Settings:
    """The settings of the running local stack; `up` is idempotent and locked.

    The stack outlives the session on purpose: the test command (or a person) stops it.
    """
    settings = load_settings()
    if not stack_is_external:
        try:
            # In a thread: the first test to ask may be an async one, whose event loop is
            # already running, and `up` runs a loop of its own.
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(up, settings).result()
        except StackError as exc:
            pytest.fail(f"the local stack did not come up:\n{exc}", pytrace=False)
    return settings


@pytest.fixture
def load_with(monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], Settings]:
    """Loads the settings with one more variable set, for this test only."""

    def load(name: str, value: str) -> Settings:
        monkeypatch.setenv(name, value)
        return load_settings()

    return load
