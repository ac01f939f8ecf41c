"""The tables, as SQLAlchemy Core metadata; the Alembic migrations create exactly these.

A change here needs a new revision in `migrations/versions/` (tests/test_migrations.py compares
the migrated database with this metadata). Also the limits the statements on them respect.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# Bound parameters per IN list: far below SQLite's limit (32,766 since 3.32, 999 before).
IN_CHUNK = 500

_T = TypeVar("_T")


def chunks(items: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    """`items` in slices of at most `size`, for IN lists."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


class UtcDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every engine.

    PostgreSQL keeps `timestamptz`; SQLite has no time zones, so the value is stored as naive UTC
    and made aware again on the way out. Naive datetimes are refused: their zone is a guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.DateTime())
        return dialect.type_descriptor(sa.DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass a UTC-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _text(name: str, *, nullable: bool = True) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=nullable)


def _time(name: str, *, nullable: bool = True) -> sa.Column[datetime]:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("id", sa.Text(), primary_key=True),
    _text("url", nullable=False),  # what is polled: follows permanent redirects
    _text("config_url", nullable=False),  # as monitor.yaml gives it: what sync_feeds compares
    sa.Column("interval_seconds", sa.Float(), nullable=False),
    sa.Column("tags", sa.JSON(), nullable=False),
    sa.Column("backfill", sa.Integer(), nullable=False),
    _text("title"),
    sa.Column("enabled", sa.Boolean(), nullable=False),
    _text("status", nullable=False),
    _text("etag"),
    _text("last_modified"),
    _text("body_hash"),
    sa.Column("last_status_code", sa.Integer(), nullable=True),
    sa.Column("error_count", sa.Integer(), nullable=False),
    _text("last_error"),
    _time("last_poll_at"),
    _time("last_success_at"),
    _time("next_poll_at", nullable=False),
    _text("lease_owner"),
    _time("lease_until"),
    _time("created_at", nullable=False),
    _time("updated_at", nullable=False),
    # Adaptive polling (migration 0005): the feed's bounds (NULL: its interval) and the
    # interval its publishing rate gave at the last read (NULL: none measured yet).
    sa.Column("min_interval_seconds", sa.Float(), nullable=True),
    sa.Column("max_interval_seconds", sa.Float(), nullable=True),
    sa.Column("poll_interval_seconds", sa.Float(), nullable=True),
    # With `id`, the claim's ORDER BY next_poll_at, id comes from the index, and its LIMIT stops
    # the scan (migration 0007). Without, SQLite sorted every feed due at the same instant
    # (all of them after `mark_all_due`) for each claim.
    sa.Index(None, "enabled", "next_poll_at", "id"),
)

# The items of the body a feed's `body_hash` names, as the parser remembers them (migration
# 0006): the next parse reads only the items whose bytes are new. A table of its own, so that
# the ~1 KB memo is not rewritten with the feed row by every poll that answers 304.
feed_memos = sa.Table(
    "feed_memos",
    metadata,
    sa.Column(
        "feed_id",
        sa.Text(),
        sa.ForeignKey("feeds.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("item_memo", sa.LargeBinary(), nullable=False),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column(
        "id",
        # On SQLite only INTEGER PRIMARY KEY is an alias of the rowid (and autoincrements).
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column(
        "feed_id",
        sa.Text(),
        sa.ForeignKey("feeds.id", ondelete="CASCADE"),
        nullable=False,
    ),
    _text("key", nullable=False),
    _text("url"),
    _text("link"),
    _text("title", nullable=False),
    _text("summary", nullable=False),
    _text("content", nullable=False),
    _text("summary_text", nullable=False),
    _text("content_text", nullable=False),
    sa.Column("authors", sa.JSON(), nullable=False),
    sa.Column("tags", sa.JSON(), nullable=False),
    _time("published"),
    _time("updated"),
    _text("language"),
    _text("content_hash", nullable=False),
    _time("first_seen_at", nullable=False),
    _time("updated_at", nullable=False),
    sa.UniqueConstraint("feed_id", "key"),
    # Hash on PostgreSQL: equality is the only lookup, and a B-tree entry is capped at ~2.7 kB,
    # which a long tracking URL can exceed.
    sa.Index(None, "url", postgresql_using="hash"),
    sa.Index(None, "feed_id", "first_seen_at"),
)

alerts = sa.Table(
    "alerts",
    metadata,
    # uuid4 hex, made at insert: the same id goes in the webhook payload and its deliveries.
    sa.Column("id", sa.Text(), primary_key=True),
    _text("rule_id", nullable=False),
    # The article's canonical URL, else feed_id + "\x1f" + key: one story, one alert per rule,
    # whichever feed (or replica) saw it first.
    _text("story_key", nullable=False),
    sa.Column(
        "article_id",
        articles.c.id.type,
        sa.ForeignKey("articles.id", ondelete="CASCADE"),
        nullable=False,
    ),
    _text("feed_id", nullable=False),
    _text("article_key", nullable=False),
    _text("url"),
    _time("detected_at", nullable=False),
    sa.Column("score", sa.Float(), nullable=False),
    sa.Column("matches", sa.JSON(), nullable=False),  # {"keywords": [...], "actors": [...]}
    # The article's title folded (case, accents, punctuation): one wire story under other
    # links has the same, which `realert` looks for.
    _text("title_key"),
    sa.UniqueConstraint("rule_id", "story_key"),
    sa.Index(None, "detected_at"),
    sa.Index(None, "rule_id", "detected_at"),
    sa.Index(None, "rule_id", "title_key", "detected_at"),
    # PostgreSQL does not index a referencing column itself: without this, deleting old
    # articles would scan the alerts once per article for the cascade.
    sa.Index(None, "article_id"),
)

# The outbox: one row per alert × notifier (or per ops notice × notifier), written in the
# transaction that stores the alert. A worker sends the due `pending` rows; a digest or the
# overflow of a rate cap gathers `held` rows into one message under a `batch_id`.
deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.Text(), primary_key=True),  # uuid4 hex: the `webhook-id`, stable
    sa.Column(
        "alert_id",
        sa.Text(),
        sa.ForeignKey("alerts.id", ondelete="CASCADE"),
        nullable=True,  # None for an ops notice
    ),
    _text("notifier_id", nullable=False),
    _text("kind", nullable=False),  # alert | notice
    _text("state", nullable=False),  # pending | held | sent | dead | suppressed
    _text("batch_id"),
    sa.Column("attempts", sa.Integer(), nullable=False),
    _time("next_attempt_at", nullable=False),
    _text("last_error"),
    _text("answer"),  # the receiver's last answer on success
    sa.Column("notice", sa.JSON(), nullable=True),  # an ops notice's content
    _text("lease_owner"),
    _time("lease_until"),
    _time("created_at", nullable=False),
    _time("updated_at", nullable=False),
    _time("sent_at"),
    sa.Index(None, "state", "next_attempt_at"),
    sa.Index(None, "notifier_id", "state"),
    sa.Index(None, "alert_id"),
    sa.Index(None, "batch_id"),
    sa.Index(None, "notifier_id", "sent_at"),
)

# `monitor silence add RULE --for 2h`: a rule's alerts are stored but not sent until `ends_at`.
silences = sa.Table(
    "silences",
    metadata,
    sa.Column("id", sa.Text(), primary_key=True),
    _text("rule_id", nullable=False),
    _time("starts_at", nullable=False),
    _time("ends_at", nullable=False),
    _text("reason", nullable=False),
    _time("created_at", nullable=False),
    sa.Index(None, "rule_id", "ends_at"),
)

# Each running daemon (replica), its heartbeat: what `monitor status --cluster` shows.
replicas = sa.Table(
    "replicas",
    metadata,
    sa.Column("id", sa.Text(), primary_key=True),  # host:pid:random, the owner of its leases
    _text("host", nullable=False),
    sa.Column("pid", sa.Integer(), nullable=False),
    _text("version", nullable=False),
    _time("started_at", nullable=False),
    _time("heartbeat_at", nullable=False),
    _time("stopped_at"),
)
