"""Driver errors -> our three kinds: transient (retry), poison (dead-letter one event), fatal.

Each store adapter raises SinkError for a failure that may pass (connection lost, timeout,
deadlock, server starting) and PoisonError for a value the store refuses; anything else
(a syntax error in our own SQL, a programming error) propagates and stops the worker
loudly, because retrying or dead-lettering it would hide a bug.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import pymysql  # type: ignore[import-untyped]
from bson.errors import InvalidDocument
from pymongo.errors import (
    BulkWriteError,
    ConnectionFailure,
    ExecutionTimeout,
    OperationFailure,
    PyMongoError,
    WriteConcernError,
)
from redis.exceptions import BusyLoadingError, ResponseError, TryAgainError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from streams.errors import PoisonError, SinkError, StreamsError

# MySQL / TiDB error numbers for a value that cannot be stored: out of range, too long,
# bad string, bad date, NULL into NOT NULL, truncated.
MYSQL_POISON = frozenset({1048, 1264, 1265, 1292, 1366, 1406})
MONGO_DUPLICATE_KEY = 11000
T = TypeVar("T")
Translate = Callable[[BaseException, str], StreamsError | BaseException]


def from_mysql(exc: BaseException, what: str) -> StreamsError | BaseException:
    """The error to raise for a MySQL-protocol failure of `what`."""
    if isinstance(exc, TimeoutError):
        return SinkError(f"{what}: no answer within the store timeout")
    if isinstance(exc, pymysql.DataError) or _mysql_code(exc) in MYSQL_POISON:
        return PoisonError(f"{what}: {exc}")
    if isinstance(exc, pymysql.OperationalError | pymysql.InternalError | pymysql.InterfaceError):
        return SinkError(f"{what}: {exc}")
    if isinstance(exc, OSError | ConnectionError):
        return SinkError(f"{what}: {exc!r}")
    return exc


def from_redis(exc: BaseException, what: str) -> StreamsError | BaseException:
    if isinstance(exc, TimeoutError | RedisTimeoutError):
        return SinkError(f"{what}: no answer within the store timeout")
    if isinstance(exc, RedisConnectionError | BusyLoadingError | TryAgainError | OSError):
        return SinkError(f"{what}: {exc!r}")
    if isinstance(exc, ResponseError):
        text = str(exc)
        if text.startswith(("OOM", "LOADING", "BUSY", "READONLY", "MASTERDOWN")):
            return SinkError(f"{what}: {text}")
        return PoisonError(f"{what}: {text}")
    return exc


def from_mongo(exc: BaseException, what: str) -> StreamsError | BaseException:
    if isinstance(exc, TimeoutError | ExecutionTimeout):
        return SinkError(f"{what}: no answer within the store timeout")
    if isinstance(exc, ConnectionFailure | WriteConcernError | OSError):
        return SinkError(f"{what}: {exc!r}")
    if isinstance(exc, InvalidDocument | ValueError | OverflowError):
        return PoisonError(f"{what}: {exc}")
    if isinstance(exc, BulkWriteError):
        return PoisonError(f"{what}: {exc.details}")
    if isinstance(exc, OperationFailure | PyMongoError):
        return SinkError(f"{what}: {exc}")
    return exc


def only_duplicates(exc: BulkWriteError) -> bool:
    """True when every write error of a bulk insert is a duplicate key (already applied)."""
    details = exc.details or {}
    errors = details.get("writeErrors", [])
    concern = details.get("writeConcernErrors", [])
    return (
        bool(errors) and not concern and all(e.get("code") == MONGO_DUPLICATE_KEY for e in errors)
    )


def _mysql_code(exc: BaseException) -> int | None:
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


async def bounded(call: Awaitable[T], what: str, timeout_s: float, translate: Translate) -> T:
    """Await one store call within the store timeout, its failure translated into our kinds
    (an error `translate` does not know propagates as it is)."""
    try:
        async with asyncio.timeout(timeout_s):
            return await call
    except BaseException as exc:
        error = translate(exc, what)
        if error is exc:
            raise
        raise error from exc


@contextlib.asynccontextmanager
async def closed_on_failure(close: Callable[[], Awaitable[object]]) -> AsyncIterator[None]:
    """Close a client just opened when its first check fails, so a refused start leaks no
    connection pool."""
    try:
        yield
    except SinkError:
        await close()
        raise
