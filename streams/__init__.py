"""streams: see DESIGN.md section 7."""
