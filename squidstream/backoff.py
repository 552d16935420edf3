"""The one retry delay of the project: exponential, capped, with jitter.

Every retry loop (store writes, the bridge's reconnects, worker start-up) takes its delays
from here, so that many workers retrying the same store after an outage spread out instead
of arriving together ("equal jitter": half the delay fixed, half random).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays of `first_s`, doubling up to `cap_s`, each jittered; `reset` after a success."""

    first_s: float = 0.2
    cap_s: float = 10.0
    attempt: int = 0
    _rng: random.Random = field(default_factory=random.Random, repr=False)

    def next_delay(self) -> float:
        self.attempt += 1
        # Doubling stops mattering long before 2.0 ** 1024 overflows a float (a bridge
        # retrying at the cap for hours would otherwise crash): 2 ** 60 exceeds any cap.
        ceiling = min(self.first_s * 2.0 ** min(self.attempt - 1, 60), self.cap_s)
        return ceiling / 2 + self._rng.uniform(0, ceiling / 2)

    def reset(self) -> None:
        self.attempt = 0
