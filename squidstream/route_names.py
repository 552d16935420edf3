"""The two routes an event can take to the log, by name; the proto's `Route` enum numbers them.

Names only, free of the generated modules (the console's argument parser uses them);
`squidstream.contract.ROUTES` maps each name to its enum value.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

RouteName = Literal["kafka", "rabbitmq"]
# In this order everywhere: gateway ports, weights, reports.
ROUTE_LIST: Final[tuple[RouteName, ...]] = get_args(RouteName)
