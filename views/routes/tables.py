"""Faust table values (live counts and windowed rates), summed over the workers."""

from __future__ import annotations

from fastapi import APIRouter

from views.deps import FaustDep
from views.models import FaustTables

router = APIRouter(prefix="/api", tags=["faust tables"])


@router.get("/tables", summary="Every worker's table values, summed; silent workers listed")
async def faust_tables(faust: FaustDep) -> FaustTables:
    return await faust.tables()
