"""loadtest: see DESIGN.md section 7."""
