"""Synthetic workloads that go through the real application: the national year (`national`), on the
real areas and census weights of `census`, with the people of `people`."""
