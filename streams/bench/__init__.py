"""`squidstream bench streams`: drain rates of our worker beside a bare consumer, a Faust agent
that only counts, the naive per-message consumer and each store alone; and the synthetic
events the benchmarks and tests project.
"""
