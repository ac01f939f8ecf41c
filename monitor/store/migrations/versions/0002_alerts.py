"""Alerts: one per rule × story, referring to the article that caused it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the types at this revision: later changes to schema.py must not alter it.
_TIME = sa.DateTime(timezone=True)
_ARTICLE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.Text(), nullable=False),
        sa.Column("story_key", sa.Text(), nullable=False),
        sa.Column("article_id", _ARTICLE_ID, nullable=False),
        sa.Column("feed_id", sa.Text(), nullable=False),
        sa.Column("article_key", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("detected_at", _TIME, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("matches", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
        sa.ForeignKeyConstraint(
            ["article_id"],
            ["articles.id"],
            name="fk_alerts_article_id_articles",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("rule_id", "story_key", name="uq_alerts_rule_id_story_key"),
    )
    op.create_index("ix_alerts_detected_at", "alerts", ["detected_at"])
    op.create_index("ix_alerts_rule_id_detected_at", "alerts", ["rule_id", "detected_at"])
    op.create_index("ix_alerts_article_id", "alerts", ["article_id"])


def downgrade() -> None:
    op.drop_table("alerts")
