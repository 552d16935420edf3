"""Faust table values, gathered from every worker's web server and summed per key."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from views.models import FaustTables, Freshness, WorkerStatus

TABLES_PATH = "/squid/tables/"


def merge_tables(left: Any, right: Any) -> Any:
    """Sum numbers at the same path of two JSON values, join lists; keep the left otherwise.

    Each worker serves only the keys it owns (keys carry the source partition), so summing
    per path gives the whole table while overlapping keys still add up correctly.
    """
    if isinstance(left, dict) and isinstance(right, dict):
        merged = dict(left)
        for key, value in right.items():
            merged[key] = merge_tables(merged[key], value) if key in merged else value
        return merged
    if _is_number(left) and _is_number(right):
        return left + right
    if isinstance(left, list) and isinstance(right, list):
        return left + right
    return left


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class FaustTablesReader:
    """Asks each worker in settings.worker_urls; a silent worker is reported, not fatal."""

    store = "faust"

    def __init__(self, client: httpx.AsyncClient, urls: Sequence[str]) -> None:
        self._client = client
        self._urls = list(urls)

    async def _fetch(self, url: str) -> tuple[WorkerStatus, Any]:
        try:
            response = await self._client.get(url + TABLES_PATH)
            response.raise_for_status()
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            return WorkerStatus(url=url, ok=False, error=repr(exc)), None
        if not isinstance(body, dict):
            return WorkerStatus(url=url, ok=False, error="answer is not a JSON object"), None
        return WorkerStatus(url=url, ok=True), body

    async def tables(self) -> FaustTables:
        answers = await asyncio.gather(*(self._fetch(url) for url in self._urls))
        merged: dict[str, Any] = {}
        for _, body in answers:
            if body is not None:
                merged = merge_tables(merged, body)
        return FaustTables(
            store=self.store,
            freshness=Freshness.at(None),
            tables=merged,
            workers=[status for status, _ in answers],
        )
