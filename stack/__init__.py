"""stack: see DESIGN.md section 7."""
