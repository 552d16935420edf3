"""gateways: see DESIGN.md section 7."""
