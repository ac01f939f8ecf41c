"""Item memo: each feed keeps what the parser remembers of its last parsed body's items.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "feed_memos",
        sa.Column(
            "feed_id",
            sa.Text(),
            sa.ForeignKey("feeds.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("item_memo", sa.LargeBinary(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("feed_memos")
