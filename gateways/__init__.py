"""The write side: game rules, gRPC gateways, HTTP ingress, reservations.

See docs/architecture.md, section 1 ("gateways/"), and section 3 for what it may import.
"""
