"""The `alerts` table: one alert per rule × story, written with the articles that caused it.

A story is an article's canonical URL, else its feed and key: the same story reached through two
feeds, or stored by two replicas at once, gets one alert per rule; the unique constraint decides
which writer's alert it is, and the others' are skipped (ON CONFLICT DO NOTHING).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import Alert, Article, RuleMatch
from monitor.store.schema import alerts, articles

# Separates feed id and key in a story key; neither a URL nor a feed id contains it.
STORY_SEPARATOR = "\x1f"
_WORDS = re.compile(r"\w+")

_Candidate = tuple[Alert, dict[str, Any]]


def title_key(title: str) -> str:
    """A title folded for comparison: NFKC, casefolded, words only ("U.S. strikes" = "us
    strikes"). The same wire story under other links has the same key."""
    folded = unicodedata.normalize("NFKC", title).casefold().replace(".", "")
    return " ".join(_WORDS.findall(folded))


def story_key(article: Article) -> str:
    """What makes two articles one story: the canonical URL, else the feed id and the key."""
    if article.url:
        return _clean(article.url)
    return f"{article.feed_id}{STORY_SEPARATOR}{_clean(article.key)}"


def _insert_statement(dialect: str) -> sa.Insert:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return (
        insert(alerts)
        .on_conflict_do_nothing(index_elements=[alerts.c.rule_id, alerts.c.story_key])
        .returning(alerts.c.id)
    )


_INSERTS = {dialect: _insert_statement(dialect) for dialect in ("postgresql", "sqlite")}


def record_alerts(
    conn: Connection,
    new: Sequence[tuple[int, Article]],
    matches: Mapping[str, Sequence[RuleMatch]],
    *,
    detected_at: datetime,
) -> tuple[Alert, ...]:
    """Insert an alert per rule match of the `new` (row id, article) pairs; see
    `Store.record_poll`. Returns the alerts written, in article then match order: a rule's
    story alerted already (in an earlier poll or by another writer) is skipped."""
    candidates = _candidates(new, matches, detected_at.astimezone(UTC))
    if not candidates:
        return ()
    statement = _INSERTS[conn.dialect.name]
    # In one order for every writer: two PostgreSQL transactions inserting the same stories
    # then wait on each other's rows one way only, never in a deadlock.
    rows = sorted((values for _, values in candidates), key=_lock_order)
    created = {row.id for row in conn.execute(statement, rows)}
    return tuple(alert for alert, _ in candidates if alert.id in created)


def _candidates(
    new: Sequence[tuple[int, Article]],
    matches: Mapping[str, Sequence[RuleMatch]],
    detected_at: datetime,
) -> list[_Candidate]:
    """One (alert, row values) per rule and story, the first of each in input order."""
    seen: set[tuple[str, str]] = set()
    candidates: list[_Candidate] = []
    for article_id, article in new:
        story = story_key(article)
        for match in matches.get(article.key, ()):
            if (match.rule_id, story) in seen:
                continue
            seen.add((match.rule_id, story))
            alert = _new_alert(article, match, detected_at)
            candidates.append((alert, _row_values(alert, article_id, story)))
    return candidates


def _new_alert(article: Article, match: RuleMatch, detected_at: datetime) -> Alert:
    return Alert(
        id=uuid.uuid4().hex,
        rule_id=match.rule_id,
        feed_id=article.feed_id,
        article_key=_clean(article.key),
        url=_clean(article.url or article.link or "") or None,
        detected_at=detected_at,
        score=match.score,
        match=match,
        title=_clean(article.title),
    )


def _row_values(alert: Alert, article_id: int, story: str) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule_id": alert.rule_id,
        "story_key": story,
        "article_id": article_id,
        "feed_id": alert.feed_id,
        "article_key": alert.article_key,
        "url": alert.url,
        "detected_at": alert.detected_at,
        "score": alert.score,
        "matches": alert.match.hits_json(),
        "title_key": title_key(alert.title),
    }


def _lock_order(values: dict[str, Any]) -> tuple[str, str]:
    return values["rule_id"], values["story_key"]


def _clean(text: str) -> str:
    # As the articles table stores it: PostgreSQL text cannot hold NUL.
    return text.replace("\x00", "")


# --- queries --------------------------------------------------------------------------------


def _select_alerts() -> sa.Select[Any]:
    return sa.select(alerts, articles.c.title).join(articles, articles.c.id == alerts.c.article_id)


async def list_alerts(
    conn: AsyncConnection, *, since: datetime | None, rule_id: str | None, limit: int
) -> list[Alert]:
    statement = _select_alerts()
    if since is not None:
        statement = statement.where(alerts.c.detected_at >= since)
    if rule_id is not None:
        statement = statement.where(alerts.c.rule_id == rule_id)
    # Alerts of one poll share detected_at: the later article (higher row id) counts as newer.
    statement = statement.order_by(
        alerts.c.detected_at.desc(), alerts.c.article_id.desc(), alerts.c.rule_id
    ).limit(limit)
    return [alert_from_row(row._mapping) for row in await conn.execute(statement)]


async def get_alert(conn: AsyncConnection, alert_id: str) -> Alert | None:
    row = (await conn.execute(_select_alerts().where(alerts.c.id == alert_id))).first()
    return None if row is None else alert_from_row(row._mapping)


async def count_alerts(conn: AsyncConnection) -> int:
    count: int | None = await conn.scalar(sa.select(sa.func.count()).select_from(alerts))
    return count or 0


def alert_from_row(row: Mapping[Any, Any]) -> Alert:
    """An `alerts` row, joined with its article's title, as the `Alert` record."""
    score = float(row["score"])
    return Alert(
        id=row["id"],
        rule_id=row["rule_id"],
        feed_id=row["feed_id"],
        article_key=row["article_key"],
        url=row["url"],
        detected_at=row["detected_at"],
        score=score,
        match=RuleMatch.from_hits_json(row["rule_id"], score, row["matches"]),
        title=row["title"],
    )
