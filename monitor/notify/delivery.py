"""The delivery stage of a running service: the worker and its periodic jobs (digests by
`every`/`cron`, the rate cap's overflow summaries, silence cleanup).

Given built notifiers and typed policies (the wiring, `monitor.service`, makes them from the
configuration); APScheduler is loaded only when a digest or the housekeeping job is scheduled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from monitor.models import Clock, DeliveryPolicy, DeliveryState, OutboxPlan, utc_now
from monitor.notify.base import Notifier
from monitor.notify.outbox import Outbox
from monitor.notify.schedule import crontab_trigger
from monitor.notify.worker import DeliveryLimits, DeliveryWorker

if TYPE_CHECKING:
    import httpx
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.base import BaseTrigger

__all__ = ["Delivery", "digest_trigger", "gather_digest", "gather_overflow"]

log = logging.getLogger(__name__)

OVERFLOW_CHECK = timedelta(minutes=1)
SILENCE_KEPT = timedelta(days=7)  # an expired silence is deleted this long after it ended


def digest_trigger(policy: DeliveryPolicy) -> BaseTrigger | None:
    """The APScheduler trigger of a digest notifier (UTC), None for an immediate one."""
    if policy.mode != "digest":
        return None
    if policy.cron is not None:
        return crontab_trigger(policy.cron)
    assert policy.every is not None
    from apscheduler.triggers.interval import IntervalTrigger

    return IntervalTrigger(seconds=policy.every.total_seconds(), timezone="UTC")


async def gather_digest(store: Outbox, notifier_id: str, *, now: datetime) -> int:
    """Gather the notifier's held alerts into one digest, due now; returns how many. An empty
    digest sends nothing."""
    gathered = await store.gather_held(notifier_id, now=now)
    if gathered is None:
        return 0
    batch_id, count = gathered
    log.info("digest %s for %s: %d alerts", batch_id, notifier_id, count)
    return count


async def gather_overflow(
    store: Outbox, policies: Mapping[str, DeliveryPolicy], *, now: datetime
) -> int:
    """Fold each capped notifier's alerts held for an hour into one summary; returns how many."""
    total = 0
    for notifier_id, policy in policies.items():
        if policy.mode == "digest" or policy.max_per_hour is None:
            continue
        gathered = await store.gather_held(notifier_id, now=now, due_only=True)
        if gathered is not None:
            log.info("rate cap summary for %s: %d alerts", notifier_id, gathered[1])
            total += gathered[1]
    return total


class Delivery:
    """The delivery stage of a running service: `start`, `wake` after alerts, `stop`."""

    def __init__(
        self,
        store: Outbox,
        notifiers: Mapping[str, Notifier],
        *,
        policies: Mapping[str, DeliveryPolicy],
        plan: OutboxPlan,
        rule_descriptions: Mapping[str, str] | None = None,
        limits: DeliveryLimits | None = None,
        clock: Clock = utc_now,
        on_outcome: Callable[[str, str, int], None] | None = None,
        owner: str | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        """`client`: the webhooks' HTTP client, closed by `stop` after the notifiers."""
        self._store = store
        self._clock = clock
        self._client = client
        self.notifiers = dict(notifiers)
        self.policies = dict(policies)
        self.plan = plan
        self.worker = DeliveryWorker(
            store,
            self.notifiers,
            policies=self.policies,
            rule_descriptions=rule_descriptions,
            limits=limits,
            clock=clock,
            on_outcome=on_outcome,
            owner=owner,
        )
        self._task: asyncio.Task[None] | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._job_ids: list[str] = []
        self._stopped = False

    def start(self, scheduler: AsyncIOScheduler | None = None) -> None:
        """Run the worker in the background; add the periodic jobs to `scheduler`."""
        self._task = asyncio.create_task(self.worker.run(), name="delivery-worker")
        if scheduler is None:
            return
        self._scheduler = scheduler
        # Job ids are unique per Delivery: after a reload the old one removes only its own.
        prefix = f"delivery-{id(self):x}"
        for notifier_id, policy in self.policies.items():
            trigger = digest_trigger(policy)
            if trigger is not None and notifier_id in self.notifiers:
                job = scheduler.add_job(
                    self.flush_digest,
                    trigger,
                    args=(notifier_id,),
                    id=f"{prefix}-digest-{notifier_id}",
                    coalesce=True,
                    max_instances=1,
                    misfire_grace_time=None,
                )
                self._job_ids.append(job.id)
        job = scheduler.add_job(
            self.housekeeping,
            "interval",
            seconds=OVERFLOW_CHECK.total_seconds(),
            id=f"{prefix}-housekeeping",
            coalesce=True,
            max_instances=1,
        )
        self._job_ids.append(job.id)

    def wake(self) -> None:
        self.worker.wake()

    async def flush_digest(self, notifier_id: str) -> int:
        """The digest job: see `gather_digest`."""
        count = await gather_digest(self._store, notifier_id, now=self._clock())
        if count:
            self.worker.wake()
        return count

    async def flush_overflow(self) -> int:
        count = await gather_overflow(self._store, self.policies, now=self._clock())
        if count:
            self.worker.wake()
        return count

    async def housekeeping(self) -> None:
        await self.flush_overflow()
        await self._store.delete_expired_silences(before=self._clock() - SILENCE_KEPT)

    async def drain(self) -> dict[str, DeliveryState]:
        """Deliver everything due now (for `monitor once`); the state each delivery it handled
        was left in, by delivery id."""
        return await self.worker.drain()

    async def stop(self, grace: float | None = None) -> None:
        """Finish the sends in flight within `grace` seconds (None: however long they take),
        cancel what is left (its deliveries go out again on the next start), close notifiers."""
        if self._stopped:
            return
        self._stopped = True
        self.worker.stop()
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=grace)
            if not done:
                log.warning("cancelling deliveries still in flight after %ss", grace)
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._scheduler is not None:
            from apscheduler.jobstores.base import JobLookupError

            for job_id in self._job_ids:
                with contextlib.suppress(JobLookupError):
                    self._scheduler.remove_job(job_id)
        for notifier in self.notifiers.values():
            await notifier.aclose()
        if self._client is not None:
            await self._client.aclose()
