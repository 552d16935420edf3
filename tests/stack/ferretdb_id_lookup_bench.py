"""How long one lookup by `_id` takes on the running stack's FerretDB, and its query plan.

    python -m tests.stack.ferretdb_id_lookup_bench [DOCUMENTS]

Inserts DOCUMENTS (default 100,000) documents of about 350 bytes into a private database,
then times `find({_id: ...})` for documents at the start and the end of the collection, and
prints FerretDB's plan (SQLite: "SEARCH ... USING INDEX" with stack/ferretdb/patch.json, a
"SCAN" of the whole table without it). The database is dropped at the end.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from typing import Any

from pymongo import AsyncMongoClient

from squidstream.settings import Settings

BATCH = 1000


async def main(count: int) -> None:
    settings = Settings()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongo_url)
    database = f"id_lookup_{uuid.uuid4().hex[:8]}"
    collection = client[database]["docs"]
    try:
        probes = []
        for start in range(0, count, BATCH):
            docs = [
                {"_id": str(uuid.uuid4()), "n": start + i, "pad": "p" * 300} for i in range(BATCH)
            ]
            probes.append(docs[BATCH // 2]["_id"])
            await collection.insert_many(docs, ordered=False)
        took = []
        for probe in [probes[0], probes[-1]] * 10:
            began = time.perf_counter()
            assert await collection.find({"_id": probe}).to_list()
            took.append((time.perf_counter() - began) * 1000)
        plan = (await collection.find({"_id": probes[0]}).explain())["queryPlanner"]
        print(
            f"{count:,} documents: one lookup by _id p50 {statistics.median(took):.1f} ms, "
            f"max {max(took):.1f} ms ({len(took)} lookups)"
        )
        print(f"plan: {plan}")
    finally:
        await client.drop_database(database)
        await client.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000))
