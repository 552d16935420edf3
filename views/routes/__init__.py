"""HTTP routes of the read API, one module per area."""
