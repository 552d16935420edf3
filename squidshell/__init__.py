"""The shell: the `squidstream` console command (`cli.py`) and the main job (`run.py`).

Nothing imports this package; it imports every other. See docs/architecture.md, section 3.
"""
