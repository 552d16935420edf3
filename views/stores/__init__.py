"""Store adapters: one per store, each behind a small port."""
