"""The worker's table pages: the paths it serves and the address every reader asks.

The worker (streams/worker/app.py) serves them; the views, `squidstream run`, the benchmarks and
the Kubernetes probes ask them. Worker discovery is docs/stores.md's.
"""

from __future__ import annotations

from typing import Final

# A worker's table values and counters as JSON; one key at `{TABLES_PATH}{table}/{key}/`.
TABLES_PATH: Final = "/squid/tables/"
TABLE_KEY_PATH: Final = TABLES_PATH + "{table}/{key}/"


def worker_tables_url(host: str, port: int) -> str:
    """The tables page of the worker whose web server listens on host:port."""
    return f"http://{host}:{port}{TABLES_PATH}"
