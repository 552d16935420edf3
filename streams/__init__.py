"""The Faust worker: the bridge, the projection into SQL, Redis and MongoDB, tables, replay.

See docs/architecture.md, sections 1 (from "The RabbitMQ bridge" on) and 2 (correctness).
"""
