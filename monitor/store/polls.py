"""A poll's write: the feed's state, its lease, its new articles, their alerts and deliveries.

Synchronous functions of a `Connection` inside a transaction, which the Store runs in one go
(`monitor.store.transact`); `Store.record_poll` and `Store.record_state` document the effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from monitor.errors import StoreError
from monitor.models import Article, Feed, FeedStateUpdate, OutboxPlan, RuleMatch
from monitor.store import alerts as alert_rows
from monitor.store import articles as article_rows
from monitor.store import enqueue
from monitor.store import feeds as feed_rows
from monitor.store.articles import RecordResult
from monitor.store.health import health_notice


@dataclass(frozen=True, slots=True)
class StateRecord:
    """A poll that brought no articles, waiting for its group commit."""

    feed_id: str
    update: FeedStateUpdate
    owner: str | None
    plan: OutboxPlan | None


@dataclass(frozen=True, slots=True)
class PollRecord:
    """A poll that brought a document: its state, its articles, and the rule matches found in
    them beforehand (article key -> matches; keys of articles not inserted now are ignored)."""

    feed_id: str
    update: FeedStateUpdate
    articles: Sequence[Article]
    owner: str | None
    plan: OutboxPlan | None
    matches: Mapping[str, Sequence[RuleMatch]]


def record_poll(conn: Connection, poll: PollRecord) -> RecordResult:
    update = poll.update
    ops = poll.plan.ops if poll.plan is not None else ()
    before = feed_rows.get_feed(conn, poll.feed_id, with_memo=False) if ops else None
    if (ops and before is None) or not feed_rows.update_feed_state(
        conn, poll.feed_id, update, owner=poll.owner
    ):
        raise StoreError(f"no feed {poll.feed_id} to record a poll for")
    if before is not None:
        notify_health(conn, before, update, poll.plan)
    recorded = article_rows.record_articles(conn, poll.feed_id, poll.articles, now=update.polled_at)
    if not poll.matches or not recorded.inserted:
        return recorded.result()
    created = alert_rows.record_alerts(
        conn, recorded.inserted, poll.matches, detected_at=update.polled_at
    )
    if poll.plan is not None:
        enqueue.create_alert_deliveries(conn, created, poll.plan, now=update.polled_at)
    return recorded.result(created)


def record_states(conn: Connection, records: Sequence[StateRecord]) -> list[bool]:
    """Write a batch of `record_state` calls; which feeds existed."""
    # The rows as they were, for the ops notices: read only when someone listens.
    watched = [r.feed_id for r in records if r.plan is not None and r.plan.ops]
    before = feed_rows.existing_feeds(conn, watched) if watched else {}
    updates = [(r.feed_id, r.update, r.owner) for r in records]
    missing = feed_rows.update_feed_states(conn, updates)
    for record in records:
        if record.feed_id in before:
            notify_health(conn, before[record.feed_id], record.update, record.plan)
    return [record.feed_id not in missing for record in records]


def notify_health(
    conn: Connection, before: Feed, update: FeedStateUpdate, plan: OutboxPlan | None
) -> None:
    """The ops notice of a feed turning unhealthy or recovering, in the poll's transaction."""
    if plan is not None and plan.ops:
        notice = health_notice(before, update)
        if notice is not None:
            enqueue.create_notice_deliveries(conn, notice, plan.ops, now=update.polled_at)
