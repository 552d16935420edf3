"""The SQL schema of the projections: versioned migration files and their runner."""
