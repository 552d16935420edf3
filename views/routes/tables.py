"""Faust table values (counts and windowed rates), asked of the workers that own them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path

from views.deps import FaustDep
from views.models import CounterTable, FaustTables, TableKey
from views.routes import refusal

# A player number, game id, game size or route: short and URL-safe.
KEY_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
UNAVAILABLE = refusal(503, "No worker announced itself, or none answered.")

router = APIRouter(prefix="/api/tables", tags=["faust tables"], responses=UNAVAILABLE)


@router.get("", summary="Every table, gathered from each partition's owner, each counted once")
async def faust_tables(faust: FaustDep) -> FaustTables:
    return await faust.tables()


@router.get(
    "/{table}/{key}",
    summary="One key of a table, answered by the workers owning its partitions",
    responses=refusal(404, "No partition holds the key."),
)
async def faust_table_key(
    faust: FaustDep,
    table: CounterTable,
    key: Annotated[str, Path(pattern=KEY_PATTERN)],
) -> TableKey:
    answer = await faust.key(table, key)
    # A count is never stored as 0, so 0 from every partition means the key is absent.
    if answer.value == 0 and answer.coverage.complete:
        raise HTTPException(404, f"{table.value} has no key {key!r} in any partition")
    return answer
