"""Alembic migrations of the store, run by `monitor.store.engine` (`env.py`, `versions/`)."""
