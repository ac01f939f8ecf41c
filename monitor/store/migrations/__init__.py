"""Alembic migrations of the store, run by `monitor.store.database` (`env.py`, `versions/`)."""
