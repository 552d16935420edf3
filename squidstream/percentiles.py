"""The one percentile of the project: nearest rank, over samples or a histogram of them.

Nearest rank reports a value that was actually observed; interpolating between samples
would report latencies no call had, and with few samples (a quick run's probes) the
difference is visible. The standard library's `statistics.quantiles` only interpolates,
and numpy (whose "inverted_cdf" method is this rule) is not worth a dependency for it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def _rank(q: float, count: int) -> int:
    """The 1-based rank of the q-th percentile (0 < q <= 100) among `count` observations."""
    if not count:
        raise ValueError("no samples")
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} is outside (0, 100]")
    return max(1, math.ceil(q / 100 * count))


def percentile(samples: Sequence[float], q: float) -> float:
    """The nearest-rank q-th percentile (0 < q <= 100) of `samples`."""
    rank = _rank(q, len(samples))
    return sorted(samples)[rank - 1]


def histogram_percentile(counts: Mapping[float, int], q: float) -> float:
    """The same percentile over {value: times observed}, without expanding the samples."""
    rank, seen = _rank(q, sum(counts.values())), 0
    for value in sorted(counts):
        seen += counts[value]
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the counts add up to at least the rank")
