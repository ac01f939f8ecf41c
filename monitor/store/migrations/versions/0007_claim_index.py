"""Claim index: feeds by (enabled, next_poll_at, id), the claim's order, so LIMIT ends its scan.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_feeds_enabled_next_poll_at_id", "feeds", ["enabled", "next_poll_at", "id"])
    op.drop_index("ix_feeds_enabled_next_poll_at", "feeds")


def downgrade() -> None:
    op.create_index("ix_feeds_enabled_next_poll_at", "feeds", ["enabled", "next_poll_at"])
    op.drop_index("ix_feeds_enabled_next_poll_at_id", "feeds")
