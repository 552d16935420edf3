"""squidstream: the shared settings and the one console command."""
