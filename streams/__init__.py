"""From the log to the stores, laid out by concern:

- `worker/`: the Faust worker (app, agents, bridge, exact tables, registry, metrics);
- `projection/`: the engine the worker and replay share (batches, pipeline, replay);
- `sinks/`: the stores, each adapter beside the port it implements (`sinks/__init__.py`);
- `bench/`: `bench streams` and the synthetic events.

See docs/architecture.md, sections 1 (from "The RabbitMQ bridge" on) and 2 (correctness).
"""
