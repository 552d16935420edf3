"""Load and benchmarks: Locust floods, the ingest bench and `squidstream bench report`.

See docs/architecture.md, section 1 ("loadtest/ and stack/").
"""
