"""A covering index for the seen-article lookup: (feed_id, key, content_hash).

Every changed feed looks up the stored hashes of its items' keys. Through the unique
(feed_id, key) index alone, each hit then reads the article's row, whose text columns make
it span several pages; answered from this index, the lookup took 0.90 instead of 1.25 ms
per changed feed, and the main process ~12% less CPU, in tests/benchmarks/cycle.py's setting.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_articles_feed_id_key_content_hash", "articles", ["feed_id", "key", "content_hash"]
    )


def downgrade() -> None:
    op.drop_index("ix_articles_feed_id_key_content_hash", table_name="articles")
