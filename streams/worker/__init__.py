"""The Faust worker: the app (`faust -A streams.worker.app worker`), its agents, the RabbitMQ
bridge, the exact tables and their gap check, the worker registry and metrics.

See docs/architecture.md, section 1 ("The Faust app").
"""

# What `faust -A` is given to run a worker (importing this package does not import Faust).
FAUST_APP = "streams.worker.app"
