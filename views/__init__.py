"""views: see DESIGN.md section 7."""
