"""Smoke test for a running tidb-server: the SQL shapes squidstream projections use.

Usage: .venv/bin/python stack/tidb/smoke.py [--host 127.0.0.1] [--port 4000] [--wait 60]

Connects as root (no password), waits up to --wait seconds for the first
successful query, then creates a scratch database, runs a multi-row
INSERT IGNORE and an INSERT ... SELECT ... GROUP BY ... ON DUPLICATE KEY
UPDATE col = col + VALUES(col), checks the results and drops the database.
Exit code 0 on success.
"""

import argparse
import asyncio
import sys
import time
import warnings

import aiomysql

DB = "squid_tidb_smoke"

# INSERT IGNORE of duplicate keys makes the server send warnings; they are expected.
warnings.filterwarnings("ignore", message=r".*Duplicate entry.*")


async def wait_ready(host: str, port: int, wait: float) -> float:
    start = time.monotonic()
    last = None
    while time.monotonic() - start < wait:
        try:
            conn = await aiomysql.connect(
                host=host, port=port, user="root", password="", connect_timeout=2
            )
            try:
                async with conn.cursor() as cur:
                    await cur.execute("SELECT 1")
                    await cur.fetchall()
            finally:
                conn.close()
            return time.monotonic() - start
        except Exception as exc:  # server not up yet
            last = exc
            await asyncio.sleep(0.2)
    raise TimeoutError(f"no successful query within {wait}s: {last!r}")


async def run(host: str, port: int) -> None:
    conn = await aiomysql.connect(host=host, port=port, user="root", password="", autocommit=True)
    try:
        async with conn.cursor() as cur:
            await cur.execute("SELECT VERSION(), TIDB_VERSION()")
            version, tidb_version = await cur.fetchone()
            print("VERSION():", version)
            print("TIDB_VERSION():", tidb_version.replace("\n", " | "))

            await cur.execute(f"DROP DATABASE IF EXISTS {DB}")
            await cur.execute(f"CREATE DATABASE {DB}")
            await cur.execute(f"USE {DB}")
            await cur.execute(
                "CREATE TABLE events (id BIGINT PRIMARY KEY,"
                " account VARCHAR(32) NOT NULL, amount BIGINT NOT NULL)"
            )
            await cur.execute(
                "CREATE TABLE balances (account VARCHAR(32) PRIMARY KEY,"
                " total BIGINT NOT NULL, n BIGINT NOT NULL)"
            )

            # Multi-row INSERT IGNORE; id 2 is repeated and must be ignored.
            await cur.execute(
                "INSERT IGNORE INTO events (id, account, amount) VALUES "
                "(1,'a',10),(2,'b',5),(2,'b',999),(3,'a',7)"
            )
            assert cur.rowcount == 3, f"INSERT IGNORE rowcount {cur.rowcount}"

            upsert = (
                "INSERT INTO balances (account, total, n) "
                "SELECT account, SUM(amount), COUNT(*) FROM events"
                " WHERE id BETWEEN %s AND %s GROUP BY account "
                "ON DUPLICATE KEY UPDATE total = total + VALUES(total), n = n + VALUES(n)"
            )
            await cur.execute(upsert, (1, 3))
            await cur.execute(
                "INSERT IGNORE INTO events (id, account, amount)"
                " VALUES (4,'a',100),(5,'c',1),(1,'z',0)"
            )
            await cur.execute(upsert, (4, 5))

            await cur.execute("SELECT account, total, n FROM balances ORDER BY account")
            rows = [(a, int(t), int(n)) for a, t, n in await cur.fetchall()]
            print("balances:", rows)
            expected = [("a", 117, 3), ("b", 5, 1), ("c", 1, 1)]
            assert rows == expected, f"expected {expected}, got {rows}"

            await cur.execute(f"DROP DATABASE {DB}")
    finally:
        conn.close()


async def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=4000)
    ap.add_argument("--wait", type=float, default=60.0)
    args = ap.parse_args()
    ready = await wait_ready(args.host, args.port, args.wait)
    print(f"first successful query after {ready:.2f}s of polling")
    await run(args.host, args.port)
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
