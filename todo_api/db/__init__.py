"""Data access: the pool, the named queries, and one function per query."""
