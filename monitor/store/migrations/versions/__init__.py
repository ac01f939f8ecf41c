"""Alembic revisions, `NNNN_slug.py`, one per schema change, applied in order."""
