"""Liveness, readiness (each store reachable) and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from views.deps import MetricsDep, ResourcesDep
from views.models import Health, Readiness

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    summary="Every store answers; 503 lists the ones that do not",
    responses={503: {"model": Readiness, "description": "A store is unreachable."}},
)
async def readyz(resources: ResourcesDep) -> Response:
    checks = await resources.checks()
    body = Readiness(ready=all(c.ok for c in checks), checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(metrics: MetricsDep) -> Response:
    return metrics.response()
