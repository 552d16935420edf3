"""HTTP routes of the read API, one module per area."""

from __future__ import annotations

from typing import Any

from views.models import ErrorBody

OpenApiResponses = dict[int | str, dict[str, Any]]


def refusal(status: int, meaning: str) -> OpenApiResponses:
    """An error answer as the OpenAPI document lists it: our ErrorBody, and what it means here."""
    return {status: {"model": ErrorBody, "description": meaning}}
