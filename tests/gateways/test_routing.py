"""The ingress's route choice: a deterministic weighted hash of the request id."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateways.routing import RouteWeights


@given(st.text(max_size=200))
def test_the_same_request_id_always_gets_the_same_route(request_id: str) -> None:
    assert RouteWeights({"kafka": 3, "rabbitmq": 1}).choose(request_id) == RouteWeights(
        {"kafka": 3, "rabbitmq": 1}
    ).choose(request_id)


def test_routes_get_request_ids_in_proportion_to_their_weights() -> None:
    weights = RouteWeights({"kafka": 75, "rabbitmq": 25})
    kafka = sum(weights.choose(f"request-{n}") == "kafka" for n in range(20_000))
    assert 0.73 < kafka / 20_000 < 0.77


@given(st.text(max_size=50))
def test_a_zero_weight_route_is_never_chosen(request_id: str) -> None:
    assert RouteWeights({"kafka": 0, "rabbitmq": 5}).choose(request_id) == "rabbitmq"


def test_a_lone_surrogate_still_hashes() -> None:
    assert RouteWeights({"kafka": 1, "rabbitmq": 1}).choose("\ud800") in ("kafka", "rabbitmq")


@pytest.mark.parametrize("weights", [{"kafka": 0, "rabbitmq": 0}, {"kafka": -1, "rabbitmq": 2}])
def test_unusable_weights_are_refused(weights: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="weights"):
        RouteWeights(weights)  # type: ignore[arg-type]
