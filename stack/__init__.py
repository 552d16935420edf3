"""The local stack: install, build, start, stop and check the servers.

See docs/architecture.md, section 1 ("loadtest/ and stack/") and section 4 (ports).
"""
