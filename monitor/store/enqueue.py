"""Writing the outbox: the deliveries of new alerts and ops notices, in their poll's transaction.

Synchronous, on a `Connection`: it runs inside a poll's one-go transaction
(`monitor.store.transact`). Claiming and settling deliveries is `monitor.store.outbox`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from monitor.models import Alert, DeliveryState, HealthNotice, OutboxPlan
from monitor.store.alerts import title_key
from monitor.store.schema import alerts, chunks, deliveries, silences

ALERT, NOTICE = "alert", "notice"


def create_alert_deliveries(
    conn: Connection,
    created: Sequence[Alert],
    plan: OutboxPlan,
    *,
    now: datetime,
) -> int:
    """One delivery per alert × notifier of its rule, in the alert's transaction.

    A silenced rule's deliveries, and those of an alert repeating a story the rule alerted
    within its `realert` window, are written `suppressed` with the reason; a digest notifier's
    are `held`; the rest are due now. Returns how many rows were written.
    """
    routed = [alert for alert in created if plan.routes.get(alert.rule_id)]
    if not routed:
        return 0
    silenced = _silence_reasons(conn, {alert.rule_id for alert in routed}, now)
    rows: list[dict[str, Any]] = []
    for alert in routed:
        reason = silenced.get(alert.rule_id)
        window = plan.realert.get(alert.rule_id)
        key = title_key(alert.title)
        if reason is None and window is not None and key:
            reason = _realert_reason(conn, alert, key, window)
        for notifier_id in plan.routes[alert.rule_id]:
            if reason is not None:
                state = DeliveryState.SUPPRESSED
            elif notifier_id in plan.held:
                state = DeliveryState.HELD
            else:
                state = DeliveryState.PENDING
            rows.append(_new_row(notifier_id, ALERT, state, now, alert_id=alert.id, error=reason))
    for chunk in chunks(rows):
        conn.execute(sa.insert(deliveries), list(chunk))
    return len(rows)


def create_notice_deliveries(
    conn: Connection, notice: HealthNotice, notifier_ids: Iterable[str], *, now: datetime
) -> int:
    rows = [
        _new_row(notifier_id, NOTICE, DeliveryState.PENDING, now, notice=notice.as_json())
        for notifier_id in dict.fromkeys(notifier_ids)
    ]
    if rows:
        conn.execute(sa.insert(deliveries), rows)
    return len(rows)


_last_stamp = 0


def new_delivery_id() -> str:
    """32 hex digits like a uuid4's, but in creation order (a nanosecond time, then random), so
    that deliveries written together go out in the order they were written."""
    global _last_stamp  # noqa: PLW0603 - a process-wide monotonic counter
    _last_stamp = max(time.time_ns(), _last_stamp + 1)
    return f"{_last_stamp:016x}{secrets.token_hex(8)}"


def _new_row(
    notifier_id: str,
    kind: str,
    state: DeliveryState,
    now: datetime,
    *,
    alert_id: str | None = None,
    notice: dict[str, object] | None = None,
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "id": new_delivery_id(),
        "alert_id": alert_id,
        "notifier_id": notifier_id,
        "kind": kind,
        "state": state.value,
        "batch_id": None,
        "attempts": 0,
        "next_attempt_at": now,
        "last_error": error,
        "answer": None,
        "notice": notice,
        "lease_owner": None,
        "lease_until": None,
        "created_at": now,
        "updated_at": now,
        "sent_at": None,
    }


def _silence_reasons(conn: Connection, rule_ids: set[str], now: datetime) -> dict[str, str]:
    query = sa.select(silences.c.rule_id, silences.c.reason, silences.c.ends_at).where(
        silences.c.rule_id.in_(sorted(rule_ids)),
        silences.c.starts_at <= now,
        silences.c.ends_at > now,
    )
    reasons: dict[str, str] = {}
    for row in conn.execute(query):
        until = row.ends_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        reasons[row.rule_id] = f"silenced until {until}: {row.reason}"
    return reasons


def _realert_reason(
    conn: Connection, alert: Alert, title_key: str, window: timedelta
) -> str | None:
    """The reason to suppress `alert`: an earlier alert of its rule on the same story (title)
    within `window` that was not suppressed itself."""
    earlier = alerts.alias("earlier")
    query = (
        sa.select(earlier.c.detected_at)
        .join(deliveries, deliveries.c.alert_id == earlier.c.id)
        .where(
            earlier.c.rule_id == alert.rule_id,
            earlier.c.title_key == title_key,
            earlier.c.id != alert.id,
            earlier.c.detected_at >= alert.detected_at - window,
            deliveries.c.state != DeliveryState.SUPPRESSED.value,
        )
        .order_by(earlier.c.detected_at.desc())
        .limit(1)
    )
    found = (conn.execute(query)).scalar_one_or_none()
    if found is None:
        return None
    return f"realert: the same story was alerted at {found.strftime('%Y-%m-%d %H:%M:%S')} UTC"
