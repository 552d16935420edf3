"""The committed generated modules match what protoc makes from proto/game.proto now."""

from __future__ import annotations

import pytest

from squidstream.proto.generate import stale_files


@pytest.mark.slow
def test_generated_protobuf_modules_are_not_stale() -> None:
    assert stale_files() == [], "run: make proto"
