"""The dashboard page, its static files and the chart library installed by `npm ci`."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

VIEWS_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = VIEWS_DIR / "static"
CHART_JS = VIEWS_DIR / "node_modules" / "chart.js" / "dist" / "chart.umd.js"

router = APIRouter(include_in_schema=False)


@router.get("/")
async def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/vendor/chart.umd.js")
async def chart_library() -> FileResponse:
    if not CHART_JS.is_file():
        raise HTTPException(404, "chart.js is not installed: run `npm ci --prefix views`")
    return FileResponse(CHART_JS, media_type="text/javascript")
