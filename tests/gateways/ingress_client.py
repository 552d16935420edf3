"""Test-only: the HTTP ingress app, its lifespan entered, behind an in-process client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from gateways.ingress import create_app
from gateways.routing import RouteWeights
from squidstream.contract import RouteName
from squidstream.settings import Settings


@asynccontextmanager
async def ingress_client(
    settings: Settings, weights: Mapping[RouteName, int]
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an ingress built from `settings`, routing by `weights`."""
    app = create_app(settings, RouteWeights(weights))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://ingress") as client:
            yield client
