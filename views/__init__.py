"""The read side: reports from each store, the live feed and the dashboard.

See docs/architecture.md, section 1 ("views/"); docs/stores.md is what it reads.
"""
