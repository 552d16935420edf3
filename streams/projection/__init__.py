"""The projection engine the worker and replay share: records decoded into batches, the
per-store pipeline (ledger, then the other stores, committed in fetch order), dead letters,
catch-up and replay from the log. The stores it writes are in `streams/sinks/`.

See docs/architecture.md, section 1 ("The projection engine").
"""
