"""The outbox: deliveries written with their alerts, claimed by delivery workers, and settled.

A delivery is one alert (or ops notice) for one notifier. It is written in the transaction that
stores the alert, so a crash can lose neither. Workers claim due `pending` rows with a lease
(`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never claim the same row), send them, and
settle each: sent, retried later, or dead. A message that is several deliveries (a digest, the
summary of a rate cap's overflow) has a `batch_id` naming it; its rows are claimed and settled
together and the batch id is the message's stable id.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from monitor.models import (
    ClaimedDelivery,
    DeliveryOutcome,
    DeliveryState,
    DeliveryStatus,
    HealthNotice,
)
from monitor.store.alerts import alert_from_row
from monitor.store.articles import article_from_row
from monitor.store.enqueue import ALERT
from monitor.store.schema import alerts, articles, chunks, deliveries, feeds, silences

__all__ = ["DeliveryRow", "Silence"]


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    """A delivery as `monitor deliveries` lists it."""

    id: str
    notifier_id: str
    kind: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    alert_id: str | None
    rule_id: str | None


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    rule_id: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    created_at: datetime


# ---- claiming and settling ------------------------------------------------------------------
async def claim_due(
    conn: AsyncConnection, owner: str, *, now: datetime, limit: int, lease: timedelta
) -> list[ClaimedDelivery]:
    """Lease up to about `limit` due pending deliveries (whole batches) to `owner`."""
    due = (
        sa.select(deliveries.c.id)
        .where(
            deliveries.c.state == DeliveryState.PENDING.value,
            deliveries.c.next_attempt_at <= now,
            sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now),
        )
        .order_by(deliveries.c.next_attempt_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list((await conn.execute(due)).scalars())
    if not ids:
        return []
    batches = await _batch_ids(conn, ids)
    if batches:  # a batch goes out whole: take its other rows too
        more = sa.select(deliveries.c.id).where(
            deliveries.c.batch_id.in_(batches),
            deliveries.c.state == DeliveryState.PENDING.value,
            sa.or_(deliveries.c.lease_until.is_(None), deliveries.c.lease_until < now),
        )
        ids = list(dict.fromkeys([*ids, *(await conn.execute(more)).scalars()]))
    for chunk in chunks(ids):
        await conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id.in_(chunk))
            .values(lease_owner=owner, lease_until=now + lease)
        )
    return await _load_claimed(conn, ids)


async def _batch_ids(conn: AsyncConnection, ids: Sequence[str]) -> list[str]:
    found: set[str] = set()
    for chunk in chunks(ids):
        query = sa.select(deliveries.c.batch_id).where(
            deliveries.c.id.in_(chunk), deliveries.c.batch_id.is_not(None)
        )
        found.update((await conn.execute(query)).scalars())
    return sorted(found)


async def _load_claimed(conn: AsyncConnection, ids: Sequence[str]) -> list[ClaimedDelivery]:
    claimed: list[ClaimedDelivery] = []
    for chunk in chunks(ids):
        query = (
            sa.select(
                deliveries.c.id.label("delivery_id"),
                deliveries.c.notifier_id,
                deliveries.c.kind,
                deliveries.c.batch_id,
                deliveries.c.attempts,
                deliveries.c.created_at.label("delivery_created_at"),
                deliveries.c.notice,
                alerts,
                *[c.label(f"a__{c.name}") for c in articles.c],
                feeds.c.title.label("feed_title"),
                feeds.c.url.label("feed_url"),
            )
            .select_from(
                deliveries.outerjoin(alerts, alerts.c.id == deliveries.c.alert_id)
                .outerjoin(articles, articles.c.id == alerts.c.article_id)
                .outerjoin(feeds, feeds.c.id == alerts.c.feed_id)
            )
            .where(deliveries.c.id.in_(chunk))
            .order_by(deliveries.c.created_at, deliveries.c.id)
        )
        for row in (await conn.execute(query)).mappings():
            claimed.append(_claimed_from_row(row))
    claimed.sort(key=lambda d: (d.created_at, d.id))
    return claimed


def _claimed_from_row(row: sa.RowMapping) -> ClaimedDelivery:
    alert = article = None
    if row["kind"] == ALERT and row["id"] is not None:
        alert = alert_from_row({**row, "title": row["a__title"]})
        prefix = "a__"
        article = article_from_row(
            {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}
        )
    return ClaimedDelivery(
        id=row["delivery_id"],
        notifier_id=row["notifier_id"],
        kind=row["kind"],
        batch_id=row["batch_id"],
        attempts=row["attempts"],
        created_at=row["delivery_created_at"],
        alert=alert,
        article=article,
        feed_title=row["feed_title"],
        feed_url=row["feed_url"],
        notice=None if row["notice"] is None else HealthNotice.from_json(row["notice"]),
    )


async def settle(
    conn: AsyncConnection, outcomes: Sequence[DeliveryOutcome], *, now: datetime
) -> None:
    """Record how each message's send ended, and end the leases. Outcomes alike (most sends of
    a round succeed the same way) are written by one statement."""
    alike: dict[tuple[Any, ...], list[str]] = {}
    for outcome in outcomes:
        key = (
            outcome.state,
            outcome.attempted,
            outcome.next_attempt_at,
            outcome.error,
            outcome.answer,
        )
        alike.setdefault(key, []).extend(outcome.ids)
    for (state, attempted, next_attempt_at, error, answer), ids in alike.items():
        values: dict[str, Any] = {"lease_owner": None, "lease_until": None, "updated_at": now}
        if attempted:
            values["attempts"] = deliveries.c.attempts + 1
        values["state"] = state.value
        if state is DeliveryState.SENT:
            values.update(sent_at=now, answer=answer, last_error=None)
        elif error is not None:
            values["last_error"] = error
        if next_attempt_at is not None:
            values["next_attempt_at"] = next_attempt_at
        for chunk in chunks(ids):
            await conn.execute(
                sa.update(deliveries).where(deliveries.c.id.in_(chunk)).values(values)
            )


async def sent_since(conn: AsyncConnection, notifier_id: str, since: datetime) -> int:
    """How many messages the notifier sent since `since` (a batch counts once)."""
    query = sa.select(
        sa.func.count(sa.distinct(sa.func.coalesce(deliveries.c.batch_id, deliveries.c.id)))
    ).where(
        deliveries.c.notifier_id == notifier_id,
        deliveries.c.state == DeliveryState.SENT.value,
        deliveries.c.sent_at >= since,
    )
    return int((await conn.execute(query)).scalar_one())


async def hold(
    conn: AsyncConnection, ids: Sequence[str], *, until: datetime, now: datetime
) -> None:
    """Park deliveries (over a rate cap) until `until`, when `gather` may fold them."""
    for chunk in chunks(ids):
        await conn.execute(
            sa.update(deliveries)
            .where(deliveries.c.id.in_(chunk))
            .values(
                state=DeliveryState.HELD.value,
                next_attempt_at=until,
                lease_owner=None,
                lease_until=None,
                updated_at=now,
            )
        )


async def gather(
    conn: AsyncConnection, notifier_id: str, *, now: datetime, due_only: bool
) -> tuple[str, int] | None:
    """Fold the notifier's held deliveries (with `due_only`, those whose time has come) into
    one pending batch; returns (batch id, deliveries) or None when there were none."""
    conditions = [
        deliveries.c.notifier_id == notifier_id,
        deliveries.c.state == DeliveryState.HELD.value,
    ]
    if due_only:
        conditions.append(deliveries.c.next_attempt_at <= now)
    batch_id = uuid.uuid4().hex
    result = await conn.execute(
        sa.update(deliveries)
        .where(*conditions)
        .values(
            state=DeliveryState.PENDING.value,
            batch_id=batch_id,
            next_attempt_at=now,
            updated_at=now,
        )
    )
    count = result.rowcount or 0
    return (batch_id, count) if count else None


async def retry_dead(
    conn: AsyncConnection, *, now: datetime, notifier_id: str | None, ids: Sequence[str] = ()
) -> int:
    """Put dead deliveries back in the queue, due now, with their attempts reset."""
    query = sa.update(deliveries).where(deliveries.c.state == DeliveryState.DEAD.value)
    if notifier_id is not None:
        query = query.where(deliveries.c.notifier_id == notifier_id)
    if ids:
        query = query.where(deliveries.c.id.in_(list(ids)))
    result = await conn.execute(
        query.values(
            state=DeliveryState.PENDING.value,
            attempts=0,
            next_attempt_at=now,
            lease_owner=None,
            lease_until=None,
            updated_at=now,
        )
    )
    return result.rowcount or 0


async def renew(conn: AsyncConnection, owner: str, *, until: datetime) -> int:
    result = await conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.lease_owner == owner, deliveries.c.state == DeliveryState.PENDING.value)
        .values(lease_until=until)
    )
    return result.rowcount or 0


async def release(conn: AsyncConnection, owner: str) -> int:
    """End `owner`'s leases (a worker stopping): its claimed rows are due again at once."""
    result = await conn.execute(
        sa.update(deliveries)
        .where(deliveries.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
    return result.rowcount or 0


async def next_due_at(conn: AsyncConnection) -> datetime | None:
    """When the next pending delivery can be claimed: its attempt time, or, if someone holds
    it, the end of that lease."""
    lease_ends = deliveries.c.lease_until
    claimable = sa.case(
        (lease_ends > deliveries.c.next_attempt_at, lease_ends),
        else_=deliveries.c.next_attempt_at,
    )
    query = sa.select(sa.func.min(claimable)).where(
        deliveries.c.state == DeliveryState.PENDING.value
    )
    value: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return value


async def oldest_pending_at(conn: AsyncConnection) -> datetime | None:
    """When the oldest delivery still waiting to be sent was written (held ones included)."""
    query = sa.select(sa.func.min(deliveries.c.created_at)).where(
        deliveries.c.state.in_([DeliveryState.PENDING.value, DeliveryState.HELD.value])
    )
    value: datetime | None = (await conn.execute(query)).scalar_one_or_none()
    return value


async def count_by_state(conn: AsyncConnection) -> dict[str, int]:
    query = sa.select(deliveries.c.state, sa.func.count()).group_by(deliveries.c.state)
    return {state: int(count) for state, count in await conn.execute(query)}


async def statuses_for_alerts(
    conn: AsyncConnection, alert_ids: Sequence[str]
) -> dict[str, list[DeliveryStatus]]:
    found: dict[str, list[DeliveryStatus]] = {}
    for chunk in chunks(alert_ids):
        query = (
            sa.select(deliveries)
            .where(deliveries.c.alert_id.in_(chunk))
            .order_by(deliveries.c.notifier_id)
        )
        for row in await conn.execute(query):
            found.setdefault(row.alert_id, []).append(
                DeliveryStatus(
                    id=row.id,
                    notifier=row.notifier_id,
                    state=DeliveryState(row.state),
                    attempts=row.attempts,
                    last_error=row.last_error,
                    sent_at=row.sent_at,
                )
            )
    return found


async def list_deliveries(
    conn: AsyncConnection, *, state: str | None, notifier_id: str | None, limit: int
) -> list[DeliveryRow]:
    query = (
        sa.select(deliveries, alerts.c.rule_id)
        .select_from(deliveries.outerjoin(alerts, alerts.c.id == deliveries.c.alert_id))
        .order_by(deliveries.c.created_at.desc(), deliveries.c.id)
        .limit(limit)
    )
    if state is not None:
        query = query.where(deliveries.c.state == state)
    if notifier_id is not None:
        query = query.where(deliveries.c.notifier_id == notifier_id)
    return [
        DeliveryRow(
            id=row.id,
            notifier_id=row.notifier_id,
            kind=row.kind,
            state=DeliveryState(row.state),
            attempts=row.attempts,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            created_at=row.created_at,
            sent_at=row.sent_at,
            alert_id=row.alert_id,
            rule_id=row.rule_id,
        )
        for row in await conn.execute(query)
    ]


# ---- silences -------------------------------------------------------------------------------
async def add_silence(
    conn: AsyncConnection, rule_id: str, *, now: datetime, duration: timedelta, reason: str
) -> Silence:
    silence = Silence(uuid.uuid4().hex[:12], rule_id, now, now + duration, reason, now)
    await conn.execute(
        sa.insert(silences).values(
            id=silence.id,
            rule_id=rule_id,
            starts_at=silence.starts_at,
            ends_at=silence.ends_at,
            reason=reason,
            created_at=now,
        )
    )
    return silence


async def list_silences(conn: AsyncConnection, *, now: datetime) -> list[Silence]:
    """The silences in force at `now`; expired ones are not shown (and are deleted a week on)."""
    query = sa.select(silences).where(silences.c.ends_at > now).order_by(silences.c.ends_at)
    return [
        Silence(r.id, r.rule_id, r.starts_at, r.ends_at, r.reason, r.created_at)
        for r in await conn.execute(query)
    ]


async def end_silence(conn: AsyncConnection, silence_id: str, *, now: datetime) -> bool:
    result = await conn.execute(
        sa.update(silences)
        .where(silences.c.id == silence_id, silences.c.ends_at > now)
        .values(ends_at=now)
    )
    return (result.rowcount or 0) == 1


async def delete_expired_silences(conn: AsyncConnection, *, before: datetime) -> int:
    result = await conn.execute(sa.delete(silences).where(silences.c.ends_at < before))
    return result.rowcount or 0
