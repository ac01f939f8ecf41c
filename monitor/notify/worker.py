"""The delivery worker: drains the outbox into the notifiers, with retries and a dead letter.

Each round claims the due deliveries (a lease, so another worker or replica never sends the
same row at the same time), builds one message per delivery or per batch (a digest), sends them
concurrently within each notifier's `concurrency`, and records every outcome in one
transaction: sent; retried after an exponential backoff with jitter, or the receiver's
`Retry-After`; dead after a permanent error, `max_attempts` or `max_age`. Delivery is
at-least-once: a crash between a send and its record sends it again, with the same id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import uuid
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from monitor.errors import DeliveryError, PermanentDeliveryError, StoreError
from monitor.models import (
    ClaimedDelivery,
    Clock,
    DeliveryLimits,
    DeliveryOutcome,
    DeliveryState,
    HealthNotice,
    human_duration,
    utc_now,
)
from monitor.notify.base import DeliveryPolicy, Notifier
from monitor.notify.messages import (
    AlertMessage,
    ArticleInfo,
    Digest,
    FeedInfo,
    OpsNotice,
    Outgoing,
)
from monitor.notify.outbox import Outbox
from monitor.redact import redact_url

__all__ = ["Clock", "DeliveryLimits", "DeliveryWorker", "backoff", "human_duration", "utc_now"]

log = logging.getLogger(__name__)

SUMMARY_CHARS = 600  # of an article's summary text, in a message
DIGEST_LISTED = 100  # alerts listed in one digest; the rest are counted as omitted
RATE_WINDOW = timedelta(hours=1)
IDLE_WAIT = 1.0  # seconds between looks at the outbox when nothing wakes the worker
MIN_WAIT = 0.01


def backoff(attempts: int, limits: DeliveryLimits, rng: random.Random) -> timedelta:
    """The wait before the next try after `attempts` failed ones: doubling from `first_retry`,
    capped at `longest_retry`, with jitter (50-100%) so that retries don't arrive in waves."""
    base = limits.first_retry.total_seconds() * 2 ** max(0, attempts - 1)
    capped = min(base, limits.longest_retry.total_seconds())
    return timedelta(seconds=capped * rng.uniform(0.5, 1.0))


class DeliveryWorker:
    """Sends what the outbox holds. `wake()` after writing deliveries; `run()` until `stop()`."""

    def __init__(
        self,
        store: Outbox,
        notifiers: Mapping[str, Notifier],
        *,
        policies: Mapping[str, DeliveryPolicy] | None = None,
        rule_descriptions: Mapping[str, str] | None = None,
        limits: DeliveryLimits | None = None,
        clock: Clock = utc_now,
        rng: random.Random | None = None,
        on_outcome: Callable[[str, str, int], None] | None = None,
        owner: str | None = None,
    ) -> None:
        self._store = store
        self._notifiers = dict(notifiers)
        self._policies = dict(policies or {})
        self._descriptions = dict(rule_descriptions or {})
        self._limits = limits or DeliveryLimits()
        self._clock = clock
        self._rng = rng or random.Random()
        self._owner = owner or f"deliver-{uuid.uuid4().hex[:12]}"
        self._wake = asyncio.Event()
        self._stopping = False
        self._slots = {
            nid: asyncio.Semaphore(max(1, n.concurrency)) for nid, n in notifiers.items()
        }
        self._on_outcome = on_outcome  # (notifier id, sent | retry | dead, deliveries)

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        """Finish the round in flight, then return from `run`."""
        self._stopping = True
        self._wake.set()

    async def run(self) -> None:
        try:
            while not self._stopping:
                try:
                    worked = await self.deliver_due()
                except StoreError as exc:
                    log.error("delivery round failed: %s", exc)
                    worked = 0
                if not worked and not self._stopping:
                    await self._idle()
        finally:
            with contextlib.suppress(StoreError):
                await self._store.release_deliveries(self._owner)

    async def _idle(self) -> None:
        wait = IDLE_WAIT
        due = await self._store.next_delivery_at()
        if due is not None:
            wait = min(wait, max(MIN_WAIT, (due - self._clock()).total_seconds()))
        self._wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def drain(self) -> dict[str, DeliveryState]:
        """Deliver until nothing is due now (for `monitor once`; bound it with a timeout).

        Returns the state each delivery it handled was left in, by delivery id: a retry
        scheduled later stays pending.
        """
        settled: dict[str, DeliveryState] = {}
        while await self.deliver_due(settled):
            pass
        return settled

    async def deliver_due(self, settled: dict[str, DeliveryState] | None = None) -> int:
        """One round: claim, send, record. Returns how many deliveries it handled; `settled`,
        when given, gets the state each was left in."""
        now = self._clock()
        claimed = await self._store.claim_deliveries(
            self._owner, now=now, limit=self._limits.batch, lease=self._limits.lease
        )
        if not claimed:
            return 0
        messages, outcomes = self._messages(claimed, now)
        messages = await self._apply_rate_caps(messages, now)
        renewal = asyncio.create_task(self._renew_leases())
        try:
            results = await asyncio.gather(*(self._send(m, rows) for m, rows in messages))
        finally:
            renewal.cancel()
        for (_, rows), result in zip(messages, results, strict=True):
            outcomes.append(self._outcome(rows, result))
        await self._store.settle_deliveries(outcomes, now=self._clock())
        if settled is not None:
            settled.update((id_, outcome.state) for outcome in outcomes for id_ in outcome.ids)
        return len(claimed)

    async def _renew_leases(self) -> None:
        period = self._limits.lease.total_seconds() / 3
        while True:
            await asyncio.sleep(period)
            try:
                await self._store.renew_deliveries(
                    self._owner, until=self._clock() + self._limits.lease
                )
            except StoreError as exc:
                log.warning("renewing delivery leases failed: %s", exc)

    # -- building messages --
    def _messages(
        self, claimed: Sequence[ClaimedDelivery], now: datetime
    ) -> tuple[list[tuple[Outgoing, list[ClaimedDelivery]]], list[DeliveryOutcome]]:
        messages: list[tuple[Outgoing, list[ClaimedDelivery]]] = []
        dead: list[DeliveryOutcome] = []
        batches: dict[str, list[ClaimedDelivery]] = defaultdict(list)
        for row in claimed:
            if row.notifier_id not in self._notifiers:
                # Its notifier was removed from monitor.yaml: nothing can ever send it.
                error = f'notifier "{row.notifier_id}" is not in the configuration'
                dead.append(DeliveryOutcome((row.id,), DeliveryState.DEAD, False, error=error))
            elif row.batch_id is not None:
                batches[row.batch_id].append(row)
            else:
                message = self._single(row)
                if message is None:
                    error = "its alert or article no longer exists"
                    dead.append(DeliveryOutcome((row.id,), DeliveryState.DEAD, False, error=error))
                else:
                    messages.append((message, [row]))
        for batch_id, rows in batches.items():
            alerts = [m for m in map(self._single, rows) if isinstance(m, AlertMessage)]
            listed = tuple(alerts[:DIGEST_LISTED])
            digest = Digest(batch_id, now, listed, omitted=len(rows) - len(listed))
            messages.append((digest, rows))
        return messages, dead

    def _single(self, row: ClaimedDelivery) -> Outgoing | None:
        if row.kind == "notice" and row.notice is not None:
            return _notice(row.id, row.notice)
        alert, article = row.alert, row.article
        if alert is None or article is None:
            return None
        feed = FeedInfo(alert.feed_id, row.feed_title, redact_url(row.feed_url or ""))
        summary = article.summary_text
        if len(summary) > SUMMARY_CHARS:
            summary = summary[:SUMMARY_CHARS].rsplit(" ", 1)[0] + "…"
        info = ArticleInfo(
            key=article.key,
            title=article.title,
            url=alert.url,
            published=article.published,
            summary=summary,
            authors=article.authors,
            feed=feed,
        )
        return AlertMessage(
            delivery_id=row.id,
            alert_id=alert.id,
            detected_at=alert.detected_at,
            rule_id=alert.rule_id,
            rule_description=self._descriptions.get(alert.rule_id),
            article=info,
            match=alert.match,
        )

    async def _apply_rate_caps(
        self, messages: list[tuple[Outgoing, list[ClaimedDelivery]]], now: datetime
    ) -> list[tuple[Outgoing, list[ClaimedDelivery]]]:
        """Hold the single alerts over a notifier's `max_per_hour`; they go out later, folded
        into one summary (see `Delivery.flush_overflow`)."""
        kept: list[tuple[Outgoing, list[ClaimedDelivery]]] = []
        held: list[str] = []
        budget: dict[str, int] = {}
        for message, rows in messages:
            notifier_id = rows[0].notifier_id
            cap = self._policies.get(notifier_id, DeliveryPolicy()).max_per_hour
            if cap is None or not isinstance(message, AlertMessage):
                kept.append((message, rows))
                continue
            if notifier_id not in budget:
                sent = await self._store.sent_since(notifier_id, now - RATE_WINDOW)
                budget[notifier_id] = cap - sent
            if budget[notifier_id] > 0:
                budget[notifier_id] -= 1
                kept.append((message, rows))
            else:
                held.append(rows[0].id)
        if held:
            log.warning("rate cap reached: %d alerts held for a summary", len(held))
            await self._store.hold_deliveries(held, until=now + RATE_WINDOW, now=now)
        return kept

    # -- sending --
    async def _send(self, message: Outgoing, rows: list[ClaimedDelivery]) -> str | DeliveryError:
        notifier = self._notifiers[rows[0].notifier_id]
        async with self._slots[notifier.id]:
            try:
                return await notifier.send(message)
            except DeliveryError as exc:
                return exc
            except Exception as exc:  # a notifier's bug must not stop delivery for the others
                log.exception("notifier %s failed unexpectedly", notifier.id)
                return DeliveryError(f"unexpected {type(exc).__name__}")

    def _outcome(self, rows: list[ClaimedDelivery], result: str | DeliveryError) -> DeliveryOutcome:
        outcome = self._judge(rows, result)
        if self._on_outcome is not None:
            label = "retry" if outcome.state is DeliveryState.PENDING else outcome.state.value
            self._on_outcome(rows[0].notifier_id, label, len(rows))
        return outcome

    def _judge(self, rows: list[ClaimedDelivery], result: str | DeliveryError) -> DeliveryOutcome:
        ids = tuple(row.id for row in rows)
        first = rows[0]
        name = f"delivery {first.batch_id or first.id} to {first.notifier_id}"
        context = {
            "delivery_id": first.batch_id or first.id,
            "notifier_id": first.notifier_id,
            "rule_id": first.alert.rule_id if first.alert and not first.batch_id else None,
            "attempt": first.attempts + 1,
        }
        if isinstance(result, str):
            log.info("%s sent (attempt %d): %s", name, first.attempts + 1, result, extra=context)
            return DeliveryOutcome(ids, DeliveryState.SENT, answer=result[:500])
        attempts = first.attempts + 1
        error = str(result)[:1000]
        now = self._clock()
        too_old = now - min(row.created_at for row in rows) >= self._limits.max_age
        if isinstance(result, PermanentDeliveryError):
            log.error("%s is dead: %s", name, error, extra=context)
            return DeliveryOutcome(ids, DeliveryState.DEAD, error=error)
        if attempts >= self._limits.max_attempts or too_old:
            why = f"{attempts} attempts" if not too_old else f"{self._limits.max_age} of trying"
            log.error("%s is dead after %s: %s", name, why, error, extra=context)
            return DeliveryOutcome(ids, DeliveryState.DEAD, error=f"gave up after {why}: {error}")
        delay = backoff(attempts, self._limits, self._rng)
        retry_after = getattr(result, "retry_after", None)
        if retry_after is not None:
            delay = min(timedelta(seconds=retry_after), self._limits.longest_retry)
        log.warning(
            "%s failed (attempt %d), retry in %s: %s",
            name,
            attempts,
            human_duration(delay),
            error,
            extra=context,
        )
        return DeliveryOutcome(ids, DeliveryState.PENDING, next_attempt_at=now + delay, error=error)


def _notice(delivery_id: str, notice: HealthNotice) -> OpsNotice:
    return OpsNotice(
        delivery_id=delivery_id,
        kind=notice.kind,
        at=notice.at,
        feed=FeedInfo(notice.feed_id, notice.feed_title, notice.feed_url),
        failures=notice.failures,
        error=notice.error,
        since=notice.since,
    )
