"""The `articles` table: the seen-article dedup (unique feed × key) and the article queries.

`record_articles` costs a fixed handful of statements per poll, whatever the number of items:
one SELECT of the stored hashes per 500 keys, one multi-row INSERT, one executemany UPDATE. It is
synchronous, on a `Connection`, as part of a poll's one-go transaction (`monitor.store.transact`);
the article queries further down are async, on an `AsyncConnection`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Alert, Article
from monitor.store.schema import articles, chunks


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What `record_poll` stored: the articles seen for the first time, in input order, how
    many stored ones were edited (updated in place, not new), and the alerts created."""

    inserted: tuple[Article, ...] = ()
    edited: int = 0
    alerts: tuple[Alert, ...] = ()


@dataclass(frozen=True, slots=True)
class RecordedArticles:
    """What `record_articles` wrote: the new articles with their row ids, in input order."""

    inserted: tuple[tuple[int, Article], ...] = ()
    edited: int = 0

    def result(self, alerts: tuple[Alert, ...] = ()) -> RecordResult:
        return RecordResult(tuple(a for _, a in self.inserted), self.edited, alerts)


def unseen_articles(conn: Connection, feed_id: str, items: Sequence[Article]) -> list[Article]:
    """The `items` not stored yet for the feed, in input order: those `record_articles` would
    insert now (a read; another writer may store some of them before this caller writes)."""
    by_key = _by_key(items)
    if not by_key:
        return []
    stored = _stored_hashes(conn, feed_id, list(by_key))
    return [a for k, a in by_key.items() if k not in stored]


def record_articles(
    conn: Connection, feed_id: str, items: Sequence[Article], *, now: datetime
) -> RecordedArticles:
    """Insert the unseen `items`, update the edited ones; see `Store.record_poll`."""
    by_key = _by_key(items)
    if not by_key:
        return RecordedArticles()
    stored = _stored_hashes(conn, feed_id, list(by_key))
    fresh = [a for k, a in by_key.items() if k not in stored]
    edits = [a for k, a in by_key.items() if k in stored and stored[k] != a.content_hash]
    inserted = _insert(conn, fresh, now)
    _update_edits(conn, edits, now)
    return RecordedArticles(
        inserted=tuple(
            (inserted[pair], a) for a in fresh if (pair := (a.feed_id, _clean(a.key))) in inserted
        ),
        edited=len(edits),
    )


def _by_key(items: Sequence[Article]) -> dict[str, Article]:
    by_key: dict[str, Article] = {}
    for item in items:
        by_key.setdefault(_clean(item.key), item)  # a key repeated in one document: first wins
    return by_key


# Built once: building a statement costs more than running it again from the compiled cache.
_STORED_HASHES = sa.select(articles.c.key, articles.c.content_hash).where(
    articles.c.feed_id == sa.bindparam("feed_id"),
    articles.c.key.in_(sa.bindparam("keys", expanding=True)),
)


def _stored_hashes(conn: Connection, feed_id: str, keys: Sequence[str]) -> dict[str, str]:
    stored: dict[str, str] = {}
    for chunk in chunks(keys):
        rows = conn.execute(_STORED_HASHES, {"feed_id": feed_id, "keys": list(chunk)})
        stored.update((key, digest) for key, digest in rows)
    return stored


def _insert_statement(dialect: str) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(articles)
        .on_conflict_do_nothing(index_elements=[articles.c.feed_id, articles.c.key])
        .returning(articles.c.id, articles.c.feed_id, articles.c.key)
    )


_INSERTS = {dialect: _insert_statement(dialect) for dialect in ("postgresql", "sqlite")}


def _insert(
    conn: Connection, fresh: Sequence[Article], now: datetime
) -> dict[tuple[str, str], int]:
    """Insert `fresh`; returns the row ids of the (feed_id, key) pairs actually written.

    ON CONFLICT DO NOTHING: a row another writer stored meanwhile (a replica whose lease
    expired) is not new; RETURNING tells which rows went in. SQLAlchemy batches the
    parameter sets into multi-row VALUES ("insertmanyvalues").
    """
    if not fresh:
        return {}
    statement = _INSERTS[conn.dialect.name]
    rows = conn.execute(statement, [_insert_values(a, now) for a in fresh])
    return {(row.feed_id, row.key): row.id for row in rows}


def _insert_values(article: Article, now: datetime) -> dict[str, Any]:
    return {
        "feed_id": article.feed_id,
        "key": _clean(article.key),
        "url": _clean_optional(article.url),
        "link": _clean_optional(article.link),
        "authors": [_clean(a) for a in article.authors],
        "tags": [_clean(t) for t in article.tags],
        "published": article.published,
        "language": _clean_optional(article.language),
        "first_seen_at": now,
        **_content_values(article, now, prefix=""),
    }


def _content_values(article: Article, now: datetime, *, prefix: str) -> dict[str, Any]:
    """The columns an edit of the item changes."""
    return {
        f"{prefix}title": _clean(article.title),
        f"{prefix}summary": _clean(article.summary),
        f"{prefix}content": _clean(article.content),
        f"{prefix}summary_text": _clean(article.summary_text),
        f"{prefix}content_text": _clean(article.content_text),
        f"{prefix}content_hash": article.content_hash,
        f"{prefix}updated": article.updated,
        f"{prefix}updated_at": now,
    }


def _update_edits(conn: Connection, edits: Sequence[Article], now: datetime) -> None:
    if not edits:
        return
    # Bind names must differ from column names in an executemany UPDATE.
    columns = tuple(_content_values(edits[0], now, prefix=""))
    statement = (
        sa.update(articles)
        .where(
            articles.c.feed_id == sa.bindparam("b_feed_id"),
            articles.c.key == sa.bindparam("b_key"),
        )
        .values({name: sa.bindparam(f"b_{name}") for name in columns})
    )
    parameters = [
        {"b_feed_id": a.feed_id, "b_key": _clean(a.key), **_content_values(a, now, prefix="b_")}
        for a in edits
    ]
    conn.execute(statement, parameters)


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; some feeds contain it.
    return text.replace("\x00", "") if "\x00" in text else text


def _clean_optional(text: str | None) -> str | None:
    return None if text is None else _clean(text)


def _newest_first() -> tuple[sa.UnaryExpression[Any], ...]:
    return (articles.c.first_seen_at.desc(), articles.c.id.desc())


async def articles_for_feed(conn: AsyncConnection, feed_id: str, *, limit: int) -> list[Article]:
    statement = (
        sa.select(articles)
        .where(articles.c.feed_id == feed_id)
        .order_by(*_newest_first())
        .limit(limit)
    )
    return [article_from_row(row._mapping) for row in await conn.execute(statement)]


async def find_articles_by_url(conn: AsyncConnection, url: str) -> list[Article]:
    statement = (
        sa.select(articles)
        .where(articles.c.url == url)
        .order_by(articles.c.first_seen_at, articles.c.id)
    )
    return [article_from_row(row._mapping) for row in await conn.execute(statement)]


async def count_articles(conn: AsyncConnection) -> int:
    count: int | None = await conn.scalar(sa.select(sa.func.count()).select_from(articles))
    return count or 0


def article_from_row(row: Mapping[Any, Any]) -> Article:
    """An `articles` row as the `Article` record."""
    return Article(
        feed_id=row["feed_id"],
        key=row["key"],
        url=row["url"],
        link=row["link"],
        title=row["title"],
        summary=row["summary"],
        content=row["content"],
        summary_text=row["summary_text"],
        content_text=row["content_text"],
        authors=tuple(row["authors"]),
        tags=tuple(row["tags"]),
        published=row["published"],
        updated=row["updated"],
        language=row["language"],
        content_hash=row["content_hash"],
    )
