"""The rule for every agent and task of the worker: a fatal error stops the worker.

Faust's default agent supervisor restarts a crashed agent and drops the event it crashed on,
and a failed task leaves the rest of the worker running: either way a worker could stay up
while projecting nothing. Here any error that escapes an agent or a task logs the traceback
at CRITICAL and stops the whole process (exit status non-zero), so that its supervisor
starts a fresh one; offsets were committed only behind work that was done, so the new
worker re-delivers the rest and the stores' de-duplication absorbs the overlap.
"""

from __future__ import annotations

import logging
import os
import threading

import faust

log = logging.getLogger(__name__)
# EX_SOFTWARE, used when Faust's own shutdown does not finish within STOP_GRACE_S.
FATAL_EXIT_STATUS = 70
STOP_GRACE_S = 15.0


async def crash_worker(app: faust.App, what: str, exc: BaseException) -> None:
    """Log loudly, then stop the process: Faust's crash path, or a hard exit if that hangs."""
    log.critical("%s failed; stopping this worker so that it is restarted", what, exc_info=exc)
    # Faust can hang while stopping a crashed app (a commit on a stopped consumer thread):
    # a daemon timer ends the process regardless; it is as safe as a SIGKILL.
    timer = threading.Timer(STOP_GRACE_S, _hard_exit, args=(what,))
    timer.daemon = True
    timer.start()
    await app.crash(exc)


def _hard_exit(what: str) -> None:
    log.critical("worker did not stop within %.0fs after %s failed; exiting", STOP_GRACE_S, what)
    for handler in logging.getLogger().handlers:
        handler.flush()
    os._exit(FATAL_EXIT_STATUS)
