"""FastAPI dependencies: the per-app resources, injected with `Annotated[..., Depends]`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from views.live import LiveFeed
from views.metrics import Metrics
from views.models import ReportStore
from views.resources import Resources
from views.stores.base import ResultReports
from views.stores.faust_tables import FaustTablesReader
from views.stores.mongo_reports import MongoReports


def get_resources(request: Request) -> Resources:
    resources: Resources = request.app.state.resources
    return resources


def get_live(request: Request) -> LiveFeed:
    live: LiveFeed = request.app.state.live
    return live


def get_metrics(request: Request) -> Metrics:
    metrics: Metrics = request.app.state.metrics
    return metrics


ResourcesDep = Annotated[Resources, Depends(get_resources)]


def get_reports(store: ReportStore, resources: ResourcesDep) -> ResultReports:
    return resources.reports(store)


def get_mongo(resources: ResourcesDep) -> MongoReports:
    return resources.mongo_reports


def get_faust(resources: ResourcesDep) -> FaustTablesReader:
    return resources.faust


ReportsDep = Annotated[ResultReports, Depends(get_reports)]
MongoDep = Annotated[MongoReports, Depends(get_mongo)]
FaustDep = Annotated[FaustTablesReader, Depends(get_faust)]
LiveDep = Annotated[LiveFeed, Depends(get_live)]
MetricsDep = Annotated[Metrics, Depends(get_metrics)]
