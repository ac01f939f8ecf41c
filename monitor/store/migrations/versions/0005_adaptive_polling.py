"""Adaptive polling: each feed's bounds and the interval its publishing rate gave.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("min_interval_seconds", "max_interval_seconds", "poll_interval_seconds")


def upgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        for name in _COLUMNS:
            batch.add_column(sa.Column(name, sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feeds") as batch:
        for name in reversed(_COLUMNS):
            batch.drop_column(name)
