"""The read side: a projection engine and the projections it keeps up to date.

A projection reads the events it cares about in batches, applies them to its own
tables, and records the position it reached in the same transaction. Every projection
can be rebuilt from position 0 and prints a digest of its rows, so a rebuild can be
checked against the live tables.
"""
