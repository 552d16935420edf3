"""`squidstream replay`: empty every projection and rebuild it from offset 0 of game-events.

The fence is the consumer group itself: replay first deletes the workers' group, which Kafka
refuses (GROUP_NOT_EMPTY) while any member is alive, so it cannot fail open the way a list
of worker URLs could. With the group gone, replay empties SQL, Redis and MongoDB (tracking
records included), deletes the tables' changelogs and this machine's local table stores,
then re-projects the log through the same engine the workers use. Workers started
afterwards begin at offset 0 (the group has no offsets any more): the stores skip what
replay applied, and the tables are rebuilt exactly.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.protocol.admin import DeleteGroupsRequest
from tqdm import tqdm

from squidstream.backoff import Backoff
from squidstream.kafka_auth import kafka_auth
from squidstream.settings import Settings
from squidstream.topics import ensure_topics
from streams.errors import ReplayError
from streams.projection.batch import Batch
from streams.projection.log_reader import end_offsets, open_reader, read_ranges
from streams.projection.project import Projector, Stores, close_stores, open_stores
from streams.worker.tables import TABLE_NAMES

log = logging.getLogger(__name__)
GROUP_NOT_EMPTY = 68
GROUP_ID_NOT_FOUND = 69


@dataclass
class DrainResult:
    """What one pass over the topic saw."""

    records: int = 0
    projected: int = 0
    dead_letters: int = 0
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


def changelog_topics(settings: Settings) -> list[str]:
    """The changelog topic of every table, named as Faust names them."""
    return [f"{settings.faust_app_id}-{name}-changelog" for name in TABLE_NAMES]


async def fence(settings: Settings) -> None:
    """Delete the workers' consumer group; ReplayError while any worker is a member.

    Workers are static members (streams.worker.app), which do not leave the group when they stop:
    Kafka drops them after the session timeout. So a non-empty group is asked again until
    that timeout (plus a margin) has passed, and only then is it taken as a running worker.
    """
    deadline = time.monotonic() + settings.consumer_session_timeout_s + 5
    backoff = Backoff(first_s=0.5, cap_s=3)
    while True:
        try:
            return await _delete_group(settings)
        except GroupNotEmpty as exc:
            if time.monotonic() > deadline:
                raise ReplayError(f"{exc}; stop them first") from exc
            await asyncio.sleep(backoff.next_delay())


class GroupNotEmpty(ReplayError):
    """The workers' consumer group still has members."""


async def _delete_group(settings: Settings) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **kafka_auth(settings))
    await admin.start()
    try:
        group = settings.faust_app_id
        coordinator = await admin.find_coordinator(group)
        # aiokafka 0.14 has the request but no admin method for it.
        response = await admin._send_request(DeleteGroupsRequest([group]), coordinator)
    except KafkaError as exc:
        raise ReplayError(f"cannot check the consumer group {group!r}: {exc!r}") from exc
    finally:
        await admin.close()
    for name, code in response.results:
        if code == GROUP_NOT_EMPTY:
            raise GroupNotEmpty(f"workers of group {name!r} are running")
        if code not in (0, GROUP_ID_NOT_FOUND):
            raise ReplayError(f"cannot delete consumer group {name!r}: Kafka error {code}")


async def drop_changelogs(settings: Settings, timeout_s: float = 60.0) -> None:
    """Delete the tables' changelog topics (the next worker re-creates them empty).

    Deleting records is refused on compacted topics, so the topics go as a whole; this
    waits until the broker no longer lists them, so the worker's create cannot race it.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap, **kafka_auth(settings))
    await admin.start()
    try:
        doomed = set(changelog_topics(settings)) & set(await admin.list_topics())
        if doomed:
            await admin.delete_topics(sorted(doomed))
        deadline = time.monotonic() + timeout_s
        while doomed & set(await admin.list_topics()):
            if time.monotonic() > deadline:
                raise ReplayError(f"changelog topics {sorted(doomed)} were not deleted in time")
            await asyncio.sleep(0.5)
    finally:
        await admin.close()


async def replay(settings: Settings, progress: bool = True) -> DrainResult:
    """Stop-the-world rebuild; refuses while workers of the group are running."""
    await ensure_topics(settings, {settings.events_topic: settings.events_partitions})
    await fence(settings)
    stores = await open_stores(settings)
    try:
        for store in stores.all:
            await store.reset()
        await drop_changelogs(settings)
        await asyncio.to_thread(drop_local_table_stores, settings)
        return await _project_all(settings, stores, progress)
    finally:
        await close_stores(stores.all)


def local_table_stores(settings: Settings) -> list[Path]:
    """The data folders `squidstream worker` gave this app's workers on this machine."""
    prefix = f"{settings.faust_app_id}-"
    found = (settings.data_dir / "workers").glob(f"{prefix}*")
    # `<app id>-<web port>` exactly: another app's id may start with this one's.
    return sorted(path for path in found if path.name.removeprefix(prefix).isdigit())


def drop_local_table_stores(settings: Settings) -> None:
    """Delete the workers' local table stores (rocksdb) with the changelogs they mirror.

    A rocksdb store remembers the changelog offset it holds; against a changelog deleted
    and rebuilt from offset 0 it would keep its old counts and add the new ones. Stores of
    workers on other machines are theirs to delete (docs/stores.md).
    """
    for folder in local_table_stores(settings):
        log.info("deleting the local table store %s", folder)
        shutil.rmtree(folder)


async def _project_all(settings: Settings, stores: Stores, progress: bool) -> DrainResult:
    result = DrainResult()

    async def committed(batch: Batch) -> None:
        result.projected += len(batch.canonical)

    async with open_reader(settings) as consumer:
        ends = await end_offsets(consumer, settings)
        total = sum(ends.values())
        started = time.perf_counter()
        with tqdm(total=total, unit="ev", disable=not progress, desc="replay") as bar:
            async with Projector(settings, stores, committed) as projector:
                ranges = {tp: (0, end) for tp, end in ends.items()}
                async for records in read_ranges(consumer, ranges, settings.batch_size):
                    await projector.submit(records)
                    result.records += len(records)
                    bar.update(len(records))
                await projector.pipeline.drain()
                result.dead_letters = projector.dead_letters.count
        result.seconds = time.perf_counter() - started
    return result
