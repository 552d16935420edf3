"""`squidstream bench report`: one run that benchmarks the local stack and writes a report."""
